-- wrk script of `python -m bench.load`: a mixed load on the HTTP gateway.
--
--   LOAD_PLAN=plan.lua LOAD_OUT=out.json wrk -t N -c N -d 60s --timeout 30s -s bench/load.lua URL
--
-- `bench/load.py` prepares the data over HTTP and writes the plan (a Lua
-- table: tokens, event ids, media paths, PNG files, invitees per thread,
-- weights); this script picks each request by weight:
--
--   reads   get_event, list_children, list_team, list_invites, get_media
--   writes  create_child (organizer), upload (PUT an event image, organizer),
--           copy (coorganizer, a fresh Idempotency-Key) and copy_again (the
--           previous key again: must answer the same copy),
--           invite (organizer) followed on the same connection by the
--           invitee's accept (or, one flow in four and once the thread's
--           accept plan is used up, decline).
--
-- One connection per thread (-t N -c N): each thread's request() and
-- response() then alternate strictly, so a response is known to answer the
-- request made just before it. That lets a thread chain the invite flow
-- (the invite id comes from the 201 answer) and name the request behind
-- every unexpected status. Each request carries an X-Request-Id
-- ("load-r<run>-t<thread>-<n>-<kind>") that the services' logs repeat.
-- (wrk calls request() once on the first thread before the run, to check
-- the request, and sends nothing: state changes only on answers, so that
-- call costs at most a skipped counter value.)
--
-- Each thread writes one line per answer to LOAD_OUT.<thread>: kind, status,
-- latency in ms measured here, and `F` lines (JSON) for unexpected answers,
-- in full. (Tables do not travel well from a thread to done(): wrk copies
-- only flat ones.) done() writes LOAD_OUT: wrk's own summary and latency
-- percentiles.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } load_timespec;
  int clock_gettime(int clock_id, load_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("load_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local plan = dofile(os.getenv("LOAD_PLAN"))
local ACCEPT_ROLES = { "organizer", "coorganizer", "track_organizer", "moderator" }
local DECLINE_ROLE = "registrar"

-- the setup() / done() environment --------------------------------------

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

-- the thread environment -------------------------------------------------

local cumulative, total_weight = {}, 0
for _, pair in ipairs(plan.weights) do
  total_weight = total_weight + pair[2]
  table.insert(cumulative, { pair[1], total_weight })
end

local images = {}
local sent, current, next_flow, accepts_planned = 0, nil, nil, 0
local copies_made, flows_made, accepts_made, declines_made = 0, 0, 0, 0
local last_copy = nil

local out = nil  -- this thread's answers file

function init(args)
  math.randomseed(plan.seed * 1000 + id)
  for _, path in ipairs(plan.images) do
    local file = assert(io.open(path, "rb"))
    table.insert(images, file:read("*a"))
    file:close()
  end
  accepts_planned = #plan.invitees[id] * #plan.events * #ACCEPT_ROLES
  out = assert(io.open(os.getenv("LOAD_OUT") .. "." .. id, "w"))
  out:setvbuf("full", 65536)  -- flushed when wrk exits
end

local function pick(list)
  return list[math.random(#list)]
end

local function choose_kind()
  local roll = math.random() * total_weight
  for _, entry in ipairs(cumulative) do
    if roll < entry[2] then
      return entry[1]
    end
  end
  return cumulative[#cumulative][1]
end

local function bearer(token)
  return "Bearer " .. token
end

-- a reader: the coorganizer, or nobody for a published event now and then
local function reader_headers(event)
  if event.published and math.random() < 0.3 then
    return {}
  end
  return { Authorization = bearer(plan.coorganizer) }
end

local function event_ref(event)
  if math.random() < 0.5 then
    return event.identifier
  end
  return tostring(event.id)
end

local function unique(prefix)
  return string.format("%s r%d t%d n%d", prefix, plan.run, id, sent)
end

local function child_body(kind)
  if kind == "tracks" then
    return string.format('{"name": "%s", "color": "#%06x"}', unique("Track"),
      math.random(0, 0xffffff))
  elseif kind == "microlocations" then
    return string.format('{"name": "%s", "floor": %d, "room": "R%d"}', unique("Room"),
      math.random(0, 9), math.random(1, 400))
  elseif kind == "sponsors" then
    return string.format('{"name": "%s", "level": %d, "url": "https://sponsor.example.org/%d"}',
      unique("Sponsor"), math.random(1, 3), sent)
  elseif kind == "tickets" then
    return string.format('{"name": "%s", "type": "paid", "price": "%d.50", "quantity": %d}',
      unique("Ticket"), math.random(5, 200), math.random(10, 500))
  elseif kind == "speakers" then
    return string.format('{"name": "%s", "email": "speaker.r%d.t%d.%d@example.org"}',
      unique("Speaker"), plan.run, id, sent)
  elseif kind == "social-links" then
    return string.format('{"name": "%s", "link": "https://social.example.org/%d"}',
      unique("Link"), sent)
  end
  return string.format('{"name": "%s", "length": "00:%02d"}', unique("Type"), math.random(10, 59))
end

-- each builder answers method, path, headers, body, the expected status
local build = {}

function build.get_event()
  local event = pick(plan.events)
  return "GET", "/v1/events/" .. event_ref(event), reader_headers(event), nil, 200
end

function build.list_children()
  local event = pick(plan.events)
  local path = string.format("/v1/events/%s/%s?limit=20", event_ref(event), pick(plan.read_kinds))
  return "GET", path, reader_headers(event), nil, 200
end

function build.list_team()
  local event = pick(plan.events)
  return "GET", "/v1/events/" .. event.id .. "/roles",
    { Authorization = bearer(plan.coorganizer) }, nil, 200
end

function build.list_invites()
  local event = pick(plan.events)
  return "GET", "/v1/events/" .. event.id .. "/role-invites?limit=10",
    { Authorization = bearer(plan.coorganizer) }, nil, 200
end

function build.get_media()
  return "GET", pick(plan.media_paths), {}, nil, 200
end

function build.create_child()
  local event, kind = pick(plan.events), pick(plan.write_kinds)
  return "POST", "/v1/events/" .. event.id .. "/" .. kind,
    { Authorization = bearer(plan.organizer), ["Content-Type"] = "application/json" },
    child_body(kind), 201
end

function build.upload()
  local event = pick(plan.events)
  local slot = math.random() < 0.75 and "original" or "logo"
  return "PUT", "/v1/events/" .. event.id .. "/images/" .. slot,
    { Authorization = bearer(plan.organizer), ["Content-Type"] = "image/png" },
    pick(images), 200
end

local function copy_request(source, key)
  return "POST", "/v1/events/" .. source .. "/copy",
    { Authorization = bearer(plan.coorganizer), ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = key },
    string.format('{"name": "Copy %s"}', key), 201
end

function build.copy()
  copies_made = copies_made + 1
  last_copy = { source = pick(plan.copy_sources),
                key = string.format("load-r%d-t%d-c%d", plan.run, id, copies_made) }
  return copy_request(last_copy.source, last_copy.key)
end

function build.copy_again()
  return copy_request(last_copy.source, last_copy.key)
end

-- The invite flow. Accept flows go through the thread's invitees x events x
-- ACCEPT_ROLES in an order where no invite meets a pending invite or a held
-- role; every fourth flow, and every flow once those are used up, invites
-- to DECLINE_ROLE and declines (repeatable: nothing is held after it).
function build.invite()
  local invitees = plan.invitees[id]
  flows_made = flows_made + 1
  local decline = flows_made % 4 == 0 or accepts_made >= accepts_planned
  local index = decline and declines_made or accepts_made
  local invitee = invitees[index % #invitees + 1]
  local event = plan.events[math.floor(index / #invitees) % #plan.events + 1]
  local role = DECLINE_ROLE
  if decline then
    declines_made = declines_made + 1
  else
    accepts_made = accepts_made + 1
    role = ACCEPT_ROLES[math.floor(index / (#invitees * #plan.events)) % #ACCEPT_ROLES + 1]
  end
  next_flow = { token = invitee.token, status = decline and "declined" or "accepted" }
  return "POST", "/v1/events/" .. event.id .. "/role-invites",
    { Authorization = bearer(plan.organizer), ["Content-Type"] = "application/json" },
    string.format('{"email": "%s", "role": "%s"}', invitee.email, role), 201
end

function request()
  local kind, method, path, headers, body, expect
  sent = sent + 1
  if current ~= nil and current.respond ~= nil then
    -- the invite answered 201 just before: its invitee responds now
    local flow = current.respond
    kind = flow.status == "accepted" and "accept" or "decline"
    method, path, expect = "PATCH", "/v1/role-invites/" .. flow.invite_id, 200
    headers = { Authorization = bearer(flow.token), ["Content-Type"] = "application/json" }
    body = string.format('{"status": "%s"}', flow.status)
  else
    kind = choose_kind()
    if kind == "copy_again" and (last_copy == nil or last_copy.copy_id == nil) then
      kind = "copy"  -- nothing copied yet to ask again for
    end
    next_flow = nil
    method, path, headers, body, expect = build[kind]()
  end
  local request_id = string.format("load-r%d-t%d-%d-%s", plan.run, id, sent, kind)
  headers["X-Request-Id"] = request_id
  current = { kind = kind, method = method, path = path, expect = expect,
              request_id = request_id, flow = next_flow, started = now_ms() }
  return wrk.format(method, path, headers, body)
end

local encode  -- below

local function failed(status, body, why)
  out:write("F\t", encode({ kind = current.kind, method = current.method, path = current.path,
                            status = status, request_id = current.request_id, why = why,
                            body = string.sub(body or "", 1, 400) }), "\n")
end

function response(status, headers, body)
  if current == nil or current.kind == nil then
    return
  end
  local ok, respond = status == current.expect, nil
  out:write(current.kind, "\t", status, "\t", string.format("%.3f", now_ms() - current.started),
            "\t", ok and "1" or "0", "\n")
  if not ok then
    failed(status, body, "expected " .. current.expect)
  elseif current.kind == "invite" then
    local invite_id = string.match(body, '"id"%s*:%s*(%d+)')
    if invite_id == nil then
      failed(status, body, "no invite id in the answer")
    else
      respond = { invite_id = invite_id, token = current.flow.token, status = current.flow.status }
    end
  elseif current.kind == "copy" then
    last_copy.copy_id = string.match(body, '"id"%s*:%s*(%d+)')
  elseif current.kind == "copy_again" then
    local copy_id = string.match(body, '"id"%s*:%s*(%d+)')
    if copy_id ~= last_copy.copy_id then
      failed(status, body, "the same Idempotency-Key answered another copy than "
        .. tostring(last_copy.copy_id))
    end
  end
  current = { respond = respond }
end

-- JSON, for F lines and done() -----------------------------------

encode = function(value)
  local kind = type(value)
  if kind == "table" then
    local parts = {}
    if #value > 0 or next(value) == nil then
      for index = 1, #value do
        parts[index] = encode(value[index])
      end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for key, item in pairs(value) do
      table.insert(parts, encode(tostring(key)) .. ":" .. encode(item))
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif kind == "string" then
    local escaped = value:gsub('[%c"\\]', function(char)
      return string.format("\\u%04x", char:byte())
    end)
    return '"' .. escaped .. '"'
  elseif kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then
      return "null"
    end
    if value == math.floor(value) and math.abs(value) < 2 ^ 53 then
      return string.format("%d", value)
    end
    return string.format("%.6f", value)
  elseif kind == "boolean" then
    return tostring(value)
  end
  return "null"
end

function done(summary, latency, requests)
  local result = {
    summary = summary,
    latency_us = { min = latency.min, max = latency.max, mean = latency.mean,
                   stdev = latency.stdev, p50 = latency:percentile(50),
                   p90 = latency:percentile(90), p99 = latency:percentile(99) },
    threads = #threads,
  }
  local file = assert(io.open(os.getenv("LOAD_OUT"), "w"))
  file:write(encode(result))
  file:close()
end
