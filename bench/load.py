# ruff: noqa: E402  (eventlet's monkey patch comes before every other import)
"""Sustained mixed load on the whole system, driven by wrk from a separate process.

    TEST_DATABASE_URL="postgresql+psycopg2://root@127.0.0.1:5432/{service}_load_test" \\
    PYTHONPATH=. .venv/bin/python -m bench.load [--seconds 60] [--connections 16]
        [--json OUT] [--url http://localhost:8000 [--maildev http://127.0.0.1:1080]
        [--pid SERVICE=PID …]] [--keep]

Without `--url` it starts a system of its own (`tests.support.system.System`: the
five services as real `nameko run` processes, as `make run` starts them,
on databases named after TEST_DATABASE_URL and a RabbitMQ vhost of their
own, and a mail catcher), so it knows each service's process and log. With
`--url` it loads an already running system (`make run`), whose mail
catcher `--maildev` names; memory is then read only for the `--pid`s
given, or the services' processes when there is exactly one of each.

1. Prepare over HTTP: an owner, an organizer and a coorganizer (both
   granted by invite + accept on every event), events with children, an
   event image and sponsor logos, half of the events published; a few
   events kept apart as copy sources (nothing changes them during the
   load, so every copy costs the same); and two invitees per wrk thread
   and run. Everyone who accepts an invite has verified their email by the
   link mailed at sign-up (read from the mail catcher), as they must.
2. Run wrk (`bench/load.lua`; one connection per thread) for `--seconds`:
   reads (event, child lists, team, invites, media bytes) most, then child
   creation, image uploads, copies (and the same Idempotency-Key again),
   and invite flows (organizer invites, the invitee accepts or declines on
   the same connection, chained in Lua; each invite also mails the
   invitee). Then wait until the system is idle (outboxes and queues
   empty: the mails sent), look for dead letters and ERROR log lines, and
   run wrk a second time, equally.
3. Report per run: requests, requests/s, p50/p99 latency (wrk's), errors
   (every answer other than the one expected, and wrk's socket errors:
   connect, read, write, timeout; must be 0) with the first failing
   requests in full (method, path, status, X-Request-Id, body); per request
   kind its count, statuses and latency; and each service's RSS before the
   load, right after the first run and right after the second, so growth can
   be told from warm-up. `RESULT load …` per run and `RESULT memory …` per
   service; `--json OUT` writes everything as JSON.

The exit status is 1 when a run had errors, dead letters, ERROR log lines or
logged 5xx answers, 0 otherwise.
"""
import eventlet

eventlet.monkey_patch()

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from eventlet.greenpool import GreenPool
from PIL import Image, ImageDraw
from sqlalchemy import text

from bench.common import mailbox_at, percentile
from tests.support.http import Api, ok, patiently, sign_up
from tests.support.system import BROKER_AUTH, DATABASES, MANAGEMENT, ROOT, SERVICES, System

LUA_SCRIPT = ROOT / "bench" / "load.lua"
RUNS = 2
WRK_TIMEOUT = "30s"  # longer answers count as wrk timeouts (errors)
HTTP_TIMEOUT = 60  # seconds for an answer while preparing
PNG = {"Content-Type": "image/png"}

# request kinds and their weights (per 100 picks; an invite adds its
# accept or decline as a second request)
WEIGHTS = (
    ("get_event", 14), ("list_children", 42), ("list_team", 4), ("list_invites", 3),
    ("get_media", 5),
    ("create_child", 14), ("upload", 6), ("copy", 3), ("copy_again", 1), ("invite", 8),
)
READ_KINDS = ("tracks", "sponsors", "tickets", "microlocations", "speakers", "session-types")
WRITE_KINDS = ("tracks", "microlocations", "sponsors", "tickets", "speakers", "social-links",
               "session-types")
LOADED_EVENTS = 8      # reads, children, uploads and invites go to these
COPY_SOURCES = 3       # copied, never changed
INVITEES_PER_THREAD = 2
SETTLE_TIMEOUT = 180
IDLE_FOR = 6           # seconds of empty queues and outboxes (the management API lags ~5 s)
MAX_FAILURES_KEPT = 200  # unexpected answers kept in full
TICKS = os.sysconf("SC_CLK_TCK")
STABLE_MB = 10         # second-run growth allowed before memory counts as growing


# --- HTTP preparation ------------------------------------------------------

def png(width, height, colour, stripe):
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 40):
        draw.rectangle([x, 0, x + 19, height], fill=stripe)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def media_path(url):
    return url[url.index("/media/"):]


def build_event(owner, index, *, published, source):
    """An event with its children, event image and sponsor logos; answers
    the event and the media paths of its sponsor logos (never replaced
    during the load, so they keep serving)."""
    label = "Copy source" if source else "Loaded event"
    event = ok(owner.post("/v1/events", {
        "name": f"{label} {index}", "starts_at": "2031-05-10T09:00:00+02:00",
        "ends_at": "2031-05-12T18:00:00+02:00", "timezone": "Europe/Berlin",
        "location_name": "Messe", "description": "Prepared by bench.load"}), 201)
    ref = event["id"]
    scale = 3 if source else 2

    def child(kind, body):
        return ok(owner.post(f"/v1/events/{ref}/{kind}", body), 201)

    for n in range(scale):
        child("tracks", {"name": f"Track {n}", "color": f"#{n * 40 + 30:02x}66aa"})
        child("microlocations", {"name": f"Hall {n}", "floor": n, "room": f"H{n}"})
        child("speakers", {"name": f"Speaker {n}", "email": f"speaker{n}@example.org"})
    sponsors = [child("sponsors", {"name": f"Sponsor {n}", "level": n + 1})
                for n in range(scale)]
    tickets = [child("tickets", {"name": f"Ticket {n}", "type": "paid", "price": f"{10 + n}.00",
                                 "quantity": 100}) for n in range(scale)]
    child("session-types", {"name": "Talk", "length": "00:30"})
    if source:
        child("taxes", {"name": "VAT", "rate": "19"})
        child("social-links", {"name": "Site", "link": "https://example.org"})
        child("speakers-calls", {"announcement": "Call for talks",
                                 "starts_at": "2031-01-01T00:00:00+00:00"})
        child("discount-codes", {"code": "EARLY", "type": "percent", "value": "10",
                                 "ticket_ids": [ticket["id"] for ticket in tickets]})
        order = child("orders", {"status": "completed", "amount": "10.00"})
        child("attendees", {"firstname": "Ada", "ticket_id": tickets[0]["id"],
                            "order_id": order["id"]})
    image = ok(patiently(lambda: owner.put(f"/v1/events/{ref}/images/original", headers=PNG,
                                           data=png(1600, 600, (20, 90, 140), (240, 200, 40)))))
    paths = [media_path(record["url"]) for record in image["media"]] if source else []
    for sponsor in sponsors[: scale - 1]:
        logo = ok(patiently(lambda sponsor=sponsor: owner.put(
            f"/v1/sponsors/{sponsor['id']}/logo", headers=PNG,
            data=png(300, 150, (200, 30, 30), (255, 255, 255)))))
        paths += [media_path(record["url"]) for record in logo["media"]]
    if published:
        event = ok(owner.patch(f"/v1/events/{ref}", {"state": "published"}))
    return event, paths


def grant_by_invite(owner, user, event_id, role):
    invite = ok(owner.post(f"/v1/events/{event_id}/role-invites",
                           {"email": user.email, "role": role}), 201)
    accepted = ok(user.session().patch(f"/v1/role-invites/{invite['id']}",
                                       {"status": "accepted"}))
    if accepted["status"] != "accepted":
        raise RuntimeError(f"invite {invite['id']} not accepted: {accepted}")


def prepare(base_url, threads, mailbox):
    """Everything the load needs, made over HTTP; `mailbox` (a
    `tests.support.mailbox.Mailbox`) is where the system's mails arrive:
    everyone but the owner accepts invites, and verifies their email first."""
    pool = GreenPool(8)
    labels = ["owner", "organizer", "coorganizer"] + [
        f"invitee.r{run}.t{thread}.{n}" for run in range(1, RUNS + 1)
        for thread in range(1, threads + 1) for n in range(INVITEES_PER_THREAD)]
    users = dict(zip(labels, pool.imap(
        lambda label: sign_up(Api(base_url, timeout=HTTP_TIMEOUT), label,
                              mailbox=None if label == "owner" else mailbox), labels),
        strict=True))
    owner = users["owner"].api
    specs = [(n, n % 2 == 0, False) for n in range(LOADED_EVENTS)]
    specs += [(n, True, True) for n in range(COPY_SOURCES)]
    built = list(pool.imap(lambda spec: build_event(owner, spec[0], published=spec[1],
                                                    source=spec[2]), specs))
    grants = [(users[label], event["id"], role) for event, _ in built
              for label, role in (("organizer", "organizer"), ("coorganizer", "coorganizer"))]
    list(pool.imap(lambda grant: grant_by_invite(owner, *grant), grants))
    events = [event for event, _ in built[:LOADED_EVENTS]]
    return {
        "users": users,
        "events": [{"id": event["id"], "identifier": event["identifier"],
                    "published": event["state"] == "published"} for event in events],
        "copy_sources": [event["id"] for event, _ in built[LOADED_EVENTS:]],
        "media_paths": [path for _, paths in built for path in paths],
    }


def write_plan(path, prepared, run, threads, images):
    users = prepared["users"]
    plan = {
        "run": run, "seed": run,
        "weights": [list(pair) for pair in WEIGHTS],
        "images": [str(image) for image in images],
        "organizer": users["organizer"].token,
        "coorganizer": users["coorganizer"].token,
        "events": prepared["events"],
        "copy_sources": prepared["copy_sources"],
        "media_paths": prepared["media_paths"],
        "read_kinds": list(READ_KINDS),
        "write_kinds": list(WRITE_KINDS),
        "invitees": [[{"email": users[label].email, "token": users[label].token}
                      for label in (f"invitee.r{run}.t{thread}.{n}"
                                    for n in range(INVITEES_PER_THREAD))]
                     for thread in range(1, threads + 1)],
    }
    path.write_text("return " + lua(plan) + "\n")


def lua(value):
    """`value` (dicts, lists, str, int, bool) as a Lua literal."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(key)}] = {lua(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua(item) for item in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ValueError(f"no Lua literal for {value!r}")


# --- memory ----------------------------------------------------------------

def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def memory(pids):
    return {service: rss_mb(pid) for service, pid in pids.items()}


def find_pids(given):
    """`--pid service=pid` as given; else each service's `nameko run`
    process, when exactly one is running."""
    pids = {}
    for item in given:
        service, _, pid = item.partition("=")
        pids[service] = int(pid)
    if pids:
        return pids
    found = {service: [] for service in SERVICES}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for service in SERVICES:
            if b"run" in argv and f"services.{service}.service".encode() in argv:
                found[service].append(int(entry.name))
    for service, candidates in found.items():
        if len(candidates) == 1:
            pids[service] = candidates[0]
        else:
            print(f"memory of {service}: {len(candidates)} candidate processes, not read "
                  "(give --pid {service}=PID)")
    return pids


def cpu_seconds(pid):
    """User + system CPU seconds the process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy_seconds():
    """CPU seconds the whole machine has spent busy (all CPUs, not idle or iowait)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICKS


def server_processes():
    """The PostgreSQL, RabbitMQ and Redis processes: {pid: server}."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name.startswith("postgres"):
                found[int(entry.name)] = "postgres"
            elif name == "beam.smp":
                found[int(entry.name)] = "rabbitmq"
            elif name == "redis-server":
                found[int(entry.name)] = "redis"
    return found


class CpuMeter:
    """CPU seconds used while the load runs: each service, wrk (the children
    this process waited for), PostgreSQL, RabbitMQ and Redis (approximately: a
    backend that ended during the run is missed; they may serve other
    clients too) and the whole machine, which tells how much other work
    shared it."""

    def __init__(self, pids):
        self.pids = pids
        self.start = self._read()

    def _read(self):
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"services": {service: cpu_seconds(pid) for service, pid in self.pids.items()},
                "servers": {(pid, server): cpu_seconds(pid)
                            for pid, server in server_processes().items()},
                "wrk": children.ru_utime + children.ru_stime,
                "machine": machine_busy_seconds(), "at": time.monotonic()}

    def _servers(self, end):
        used = {"postgres": 0.0, "rabbitmq": 0.0, "redis": 0.0}
        for key, seconds in end["servers"].items():
            if seconds is not None:
                used[key[1]] += seconds - (self.start["servers"].get(key) or 0)
        return {server: round(value, 1) for server, value in used.items()}

    def stop(self):
        end = self._read()
        wall = end["at"] - self.start["at"]
        services = {service: round(end["services"][service] - self.start["services"][service], 1)
                    for service in self.pids if None not in (end["services"][service],
                                                             self.start["services"][service])}
        machine = end["machine"] - self.start["machine"]
        return {"services_s": services, "wrk_s": round(end["wrk"] - self.start["wrk"], 1),
                "servers_s": self._servers(end),
                "machine_busy_s": round(machine, 1), "wall_s": round(wall, 1),
                "cpus": os.cpu_count(), "machine_busy_pct": round(
                    100 * machine / (wall * os.cpu_count()), 1),
                "loadavg_after": [round(value, 2) for value in os.getloadavg()]}


class PeakSampler:
    """Samples each service's RSS every second while the load runs."""

    def __init__(self, pids):
        self.pids = pids
        self.peak = {service: 0.0 for service in pids}
        self.thread = eventlet.spawn(self._sample)

    def _sample(self):
        while True:
            for service, value in memory(self.pids).items():
                if value is not None:
                    self.peak[service] = max(self.peak[service], value)
            eventlet.sleep(1)

    def stop(self):
        self.thread.kill()
        return self.peak


# --- the system's state ------------------------------------------------------

def queue_depths(vhost):
    answer = requests.get(f"{MANAGEMENT}/queues/{requests.utils.quote(vhost, safe='')}",
                          params={"columns": "name,messages"}, auth=BROKER_AUTH, timeout=10)
    answer.raise_for_status()
    return {queue["name"]: queue.get("messages") or 0 for queue in answer.json()}


def outbox_pending(system):
    counts = {}
    for service in DATABASES:
        with system.engine(service).connect() as connection:
            counts[service] = connection.scalar(text("SELECT count(*) FROM outbox"))
    return counts


def settle(system):
    """Wait until the work the load set off is done: every outbox empty and
    every queue but the dead letters empty, for IDLE_FOR seconds."""
    start = time.monotonic()
    idle_since = None
    while time.monotonic() - start < SETTLE_TIMEOUT:
        busy = sum(outbox_pending(system).values()) + sum(
            depth for name, depth in queue_depths(system.vhost).items()
            if not name.endswith("dead-letters"))
        if busy:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= IDLE_FOR:
            return round(idle_since - start, 1)
        eventlet.sleep(0.5)
    print(f"the system did not become idle within {SETTLE_TIMEOUT} s: "
          f"outbox {outbox_pending(system)}, queues {queue_depths(system.vhost)}")
    return None


def dead_letters(system):
    return {name: depth for name, depth in queue_depths(system.vhost).items()
            if name.endswith("dead-letters") and depth}


def log_positions(system):
    return {service: (system.log_path(service).stat().st_size
                      if system.log_path(service).exists() else 0) for service in SERVICES}


def log_findings(system, since):
    """ERROR and CRITICAL lines (and lines that are no JSON) each service
    logged since `since` (byte offsets), with the gateway's 5xx answers."""
    findings = {}
    for service in SERVICES:
        with open(system.log_path(service), "rb") as log:
            log.seek(since[service])
            lines = log.read().decode(errors="replace").splitlines()
        errors, foreign, server_errors, warnings = [], [], [], 0
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                if line.strip():
                    foreign.append(line)
                continue
            warnings += entry.get("level") == "WARNING"
            if entry.get("level") in ("ERROR", "CRITICAL"):
                errors.append({key: entry.get(key) for key in
                               ("time", "logger", "message", "request_id")}
                              | {"exception": (entry.get("exception") or "")[-1500:]})
            words = str(entry.get("message", "")).split()
            if service == "gateway" and len(words) == 3 and words[2].startswith("5"):
                server_errors.append({"request": entry["message"],
                                      "request_id": entry.get("request_id")})
        if errors or foreign or server_errors or warnings:
            findings[service] = {"errors": len(errors), "first_errors": errors[:5],
                                 "warnings": warnings,
                                 "other_lines": len(foreign), "first_other_lines": foreign[:5],
                                 "5xx": len(server_errors), "first_5xx": server_errors[:10]}
    return findings


# --- wrk -------------------------------------------------------------------

def wrk_version():
    answer = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (answer.stdout or answer.stderr).splitlines()[0].strip()


def run_wrk(base_url, plan, out, seconds, connections, log):
    """wrk's text output, its summary (done()) and every answer its threads saw."""
    command = ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", WRK_TIMEOUT, "--latency", "-s", str(LUA_SCRIPT), base_url]
    env = {**os.environ, "LOAD_PLAN": str(plan), "LOAD_OUT": str(out)}
    with open(log, "w") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        while process.poll() is None:
            eventlet.sleep(0.2)
    text = Path(log).read_text()
    if process.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed (status {process.returncode}):\n{text}")
    raw = json.loads(out.read_text())
    answers, failures = [], []
    for thread in range(1, raw["threads"] + 1):
        for line in Path(f"{out}.{thread}").read_text(errors="replace").splitlines():
            kind, _, rest = line.partition("\t")
            if kind == "F":
                failures.append(json.loads(rest))
            elif kind:
                status, latency, ok = rest.split("\t")
                answers.append((kind, int(status), float(latency), ok == "1"))
    return text, raw, answers, failures


def summarize(raw, answers, failures, seconds_asked):
    summary, latency = raw["summary"], raw["latency_us"]
    socket_errors = {name: summary["errors"][name] for name in
                     ("connect", "read", "write", "timeout")}
    by_kind = {}
    for kind, status, elapsed, _ in answers:
        entry = by_kind.setdefault(kind, {"status": {}, "latency_ms": []})
        entry["status"][str(status)] = entry["status"].get(str(status), 0) + 1
        entry["latency_ms"].append(elapsed)
    unexpected = {}
    for failure in failures:
        unexpected[failure["kind"]] = unexpected.get(failure["kind"], 0) + 1
    kinds = {kind: {"requests": len(entry["latency_ms"]), "status": entry["status"],
                    "unexpected": unexpected.get(kind, 0),
                    "p50_ms": round(percentile(entry["latency_ms"], 0.50), 1),
                    "p99_ms": round(percentile(entry["latency_ms"], 0.99), 1),
                    "max_ms": round(max(entry["latency_ms"]), 1)}
             for kind, entry in sorted(by_kind.items())}
    flows = {"invited": _answered(answers, "invite", 201),
             "accepted": _answered(answers, "accept", 200),
             "declined": _answered(answers, "decline", 200)}
    duration = summary["duration"] / 1e6
    return {
        "seconds": round(duration, 1), "seconds_asked": seconds_asked,
        "requests": summary["requests"], "rps": round(summary["requests"] / duration, 1),
        "p50_ms": round(latency["p50"] / 1000, 1), "p90_ms": round(latency["p90"] / 1000, 1),
        "p99_ms": round(latency["p99"] / 1000, 1), "max_ms": round(latency["max"] / 1000, 1),
        "errors": len(failures) + sum(socket_errors.values()),
        "unexpected_answers": len(failures), "status_over_399": summary["errors"]["status"],
        "socket_errors": socket_errors, "kinds": kinds, "invite_flows": flows,
        "failures": failures[:MAX_FAILURES_KEPT],
    }


def _answered(answers, kind, status):
    return sum(1 for name, code, _, _ in answers if name == kind and code == status)


def print_run(result):
    print(f"\nrun {result['run']}: {result['requests']} requests in {result['seconds']} s, "
          f"{result['rps']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
          f"errors {result['errors']}")
    print(f"   {'kind':<14}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses")
    for kind, entry in result["kinds"].items():
        statuses = ", ".join(f"{status}: {count}" for status, count in
                             sorted(entry["status"].items()))
        print(f"   {kind:<14}{entry['requests']:>9}{entry['p50_ms']:>9}{entry['p99_ms']:>9}"
              f"{entry['max_ms']:>9}  {statuses}")
    flows = result["invite_flows"]
    print(f"   invite flows: {flows['invited']} invited, {flows['accepted']} accepted, "
          f"{flows['declined']} declined")
    print(f"   socket errors: {result['socket_errors']}")
    cpu = result["cpu"]
    print(f"   CPU seconds: {cpu['services_s']}, {cpu['servers_s']}, wrk {cpu['wrk_s']}; "
          f"the machine "
          f"({cpu['cpus']} CPUs) was {cpu['machine_busy_pct']} % busy over {cpu['wall_s']} s, "
          f"load average after {cpu['loadavg_after']}")
    for failure in result["failures"][:20]:
        print(f"   FAILED {failure['method']} {failure['path']} -> {failure['status']} "
              f"({failure['why']}) X-Request-Id {failure['request_id']}: {failure['body']}")
    if result.get("settle_seconds") is not None:
        print(f"   idle again {result['settle_seconds']} s after the load")
    if result.get("dead_letters"):
        print(f"   DEAD LETTERS: {result['dead_letters']}")
    for service, found in (result.get("logs") or {}).items():
        print(f"   log {service}: {found['errors']} ERROR lines, {found['5xx']} 5xx answers, "
              f"{found['warnings']} WARNING lines, {found['other_lines']} non-JSON lines")
        for error in found["first_errors"]:
            print(f"      {error['request_id']} {error['logger']}: {error['message']}")


# --- main ------------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of each run (60)")
    parser.add_argument("--connections", type=int, default=16,
                        help="wrk connections, one per wrk thread (16)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--url", help="load this running system (make run) instead of one "
                                      "started here, e.g. http://localhost:8000")
    parser.add_argument("--maildev", default="http://127.0.0.1:1080",
                        help="with --url: where the system's mail catcher (maildev) answers,"
                             " for the links mailed to the users (http://127.0.0.1:1080)")
    parser.add_argument("--pid", action="append", default=[], metavar="SERVICE=PID",
                        help="with --url: a service's process, for its memory")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (logs, plans, wrk output)")
    return parser.parse_args()


def main():
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")
    (ROOT / "var").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="load-", dir=ROOT / "var"))
    system = None
    results = {"tool": wrk_version(), "started_at": datetime.now(UTC).isoformat(),
               "seconds": args.seconds, "connections": args.connections,
               "weights": dict(WEIGHTS), "runs": []}
    try:
        if args.url:
            base_url = args.url.rstrip("/")
            mailbox = mailbox_at(args.maildev)
            pids = find_pids(args.pid)
            print("--url: the system's logs, queues and outboxes are not looked at, only its "
                  "HTTP answers (and the memory of the processes found)")
        else:
            print(f"starting a system of its own (logs in {workdir})")
            system = System("load", workdir).start()
            base_url, mailbox = system.base_url, system.mailbox
            pids = {service: system.pid(service) for service in SERVICES}
        results["base_url"] = base_url
        print(f"{results['tool']}; {base_url}; {args.connections} connections, "
              f"{args.seconds} s per run, {RUNS} runs")
        started = time.monotonic()
        prepared = prepare(base_url, args.connections, mailbox)
        print(f"prepared in {time.monotonic() - started:.1f} s: "
              f"{len(prepared['users'])} users, {LOADED_EVENTS} loaded events, "
              f"{COPY_SOURCES} copy sources, {len(prepared['media_paths'])} media paths")
        images = []
        for n, (colour, stripe) in enumerate((((20, 90, 140), (240, 200, 40)),
                                             ((140, 20, 90), (40, 240, 200)),
                                             ((90, 140, 20), (200, 40, 240)))):
            images.append(workdir / f"image{n}.png")
            images[-1].write_bytes(png(800, 320, colour, stripe))
        if system:
            settle(system)
        mem = {"before": memory(pids)}
        for run in range(1, RUNS + 1):
            plan, out = workdir / f"plan{run}.lua", workdir / f"wrk{run}.json"
            write_plan(plan, prepared, run, args.connections, images)
            positions = log_positions(system) if system else None
            sampler, cpu = PeakSampler(pids), CpuMeter(pids)
            text, raw, answers, failures = run_wrk(base_url, plan, out, args.seconds,
                                                   args.connections, workdir / f"wrk{run}.txt")
            mem[f"after_run{run}"] = memory(pids)
            mem[f"peak_run{run}"] = sampler.stop()
            used = cpu.stop()
            print(f"\n--- wrk, run {run} ---\n{text.rstrip()}")
            result = {"run": run, **summarize(raw, answers, failures, args.seconds), "cpu": used}
            if system:
                result["settle_seconds"] = settle(system)
                mem[f"settled_run{run}"] = memory(pids)
                result["dead_letters"] = dead_letters(system)
                result["logs"] = log_findings(system, positions)
            else:
                eventlet.sleep(5)
            results["runs"].append(result)
            print_run(result)
        results["memory"] = memory_table(mem, pids)
    except BaseException:
        print(f"work directory kept: {workdir}")
        raise
    finally:
        if system:
            system.close()
    errors = report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if errors or args.keep:
        print(f"work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if errors else 0


def memory_table(mem, pids):
    table = {}
    for service in pids:
        row = {"before_mb": mem["before"][service], "after_mb": mem["after_run1"][service],
               "after_second_mb": mem[f"after_run{RUNS}"][service]}
        for key, values in mem.items():
            if key.startswith(("peak", "settled")):
                row[f"{key}_mb"] = values.get(service)
        if None not in (row["after_mb"], row["after_second_mb"]):
            row["second_run_growth_mb"] = round(row["after_second_mb"] - row["after_mb"], 1)
            row["stable"] = row["second_run_growth_mb"] <= STABLE_MB
        table[service] = {key: round(value, 1) if isinstance(value, float) else value
                          for key, value in row.items()}
    return table


def report(results):
    print()
    errors = 0
    for result in results["runs"]:
        errors += (result["errors"] + sum(result.get("dead_letters", {}).values())
                   + sum(found["errors"] + found["5xx"]
                         for found in (result.get("logs") or {}).values()))
        print(f"RESULT load rps={result['rps']} p50_ms={result['p50_ms']} "
              f"p99_ms={result['p99_ms']} errors={result['errors']} "
              f"seconds={result['seconds']} requests={result['requests']} run={result['run']}")
    for service, row in results["memory"].items():
        print(f"RESULT memory service={service} before_mb={row['before_mb']} "
              f"after_mb={row['after_mb']} after_second_mb={row['after_second_mb']}")
    growing = [service for service, row in results["memory"].items()
               if row.get("stable") is False]
    results["memory_stable"] = not growing
    print(f"memory: {'stable' if not growing else 'GROWING in ' + ', '.join(growing)} "
          f"(second-run growth at most {STABLE_MB} MB); tool: {results['tool']}")
    results["findings"] = errors
    print(f"findings: {errors} (HTTP errors, dead letters, ERROR log lines, logged 5xx answers)")
    return errors


if __name__ == "__main__":
    sys.exit(main())
