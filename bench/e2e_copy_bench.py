# ruff: noqa: E402  (eventlet's monkey patch comes before every other import)
"""End-to-end copy latency: from `POST /v1/events/{event}/copy` to the
moment the copy, read back over HTTP, shows its own media URLs and its team.

    PYTHONPATH=. .venv/bin/python -m bench.e2e_copy_bench [--copies 100] [--warm-up 3]
        [--poll-ms 5] [--through-proxies] [--no-docs]

It starts a system of its own (`tests.support.system.System`: the five
services as real `nameko run` processes, on databases `{service}_e2e_bench`
after TEST_DATABASE_URL, which this module sets to `…/{service}_bench` when
it is not set, and a RabbitMQ vhost of its own, deleted at the end). The
services talk to RabbitMQ and PostgreSQL directly (`proxies=False`): the TCP
proxies `System` puts in between for fault injection would add a hop run by
this process to every query and message (`--through-proxies` keeps them, for
comparison).

Over HTTP it builds a typical event: a team of three (the owner, an
organizer and a coorganizer, each invited and accepted), about 200 related
rows that a copy takes (tickets, discount codes with their ticket links,
sponsors, tracks, microlocations, taxes, social links, speakers calls,
custom forms, session types) plus orders, attendees and access codes it
leaves behind, and 20 images: the original (4 media records: original,
large, thumbnail, icon), the logo, and 15 sponsor logos.

Then, one copy at a time: `POST …/copy` as the owner, then poll as the
owner, the three checks at once (a green thread and connection each, with
`--poll-ms` between its GETs): `GET /v1/events/{copy}/roles` until the team
is the source's, `GET /v1/events/{copy}` until its five image URLs are set
and differ from the source's, `GET /v1/events/{copy}/sponsors` until every
sponsor's logo URL is set and differs from the source's. The latency of a
copy is the time from sending the POST to the answer of the GET with which
the last check passed. Each copy's requests carry an `X-Request-Id`, so the services' log
lines tell when each handler on the way finished (a breakdown, in ms).

Progress goes to stdout; the table goes to stdout and (unless `--no-docs`)
`docs/benchmarks.md`; the last line is `RESULT e2e_copy p50_ms=… p99_ms=… copies=…`.
"""
import eventlet

eventlet.monkey_patch()

import os

os.environ.setdefault("TEST_DATABASE_URL",
                      "postgresql+psycopg2://root@127.0.0.1:5432/{service}_bench")

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime
from pathlib import Path

from bench.common import (
    machine,
    markdown_table,
    ms_since,
    percentile,
    plain_table,
    postgres_settings,
    write_section,
)
from tests.support.http import ok, sign_up
from tests.support.media import image
from tests.support.system import System

DOCS = Path("docs/benchmarks.md")
SYSTEM_NAME = "e2e"
GOAL_P50_MS, GOAL_P99_MS = 150, 500
IMAGE_FIELDS = ("logo_url", "original_image_url", "large_image_url", "thumbnail_image_url",
                "icon_image_url")
TEAM = (("organizer", "Olga"), ("coorganizer", "Carl"))
# the typical event: rows per kind a copy takes (discount codes also link 3 tickets each)
COPIED = {"tickets": 40, "discount-codes": 15, "sponsors": 15, "tracks": 15,
          "microlocations": 12, "taxes": 5, "social-links": 10, "speakers-calls": 2,
          "custom-forms": 25, "session-types": 6}
CODE_TICKETS = 3
LEFT_BEHIND = {"orders": 10, "attendees": 20, "access-codes": 5}
HANDLERS = {  # (service, logged handler line) -> stage name, in the order they happen
    ("roles", "on_event_copied handled event.copied"): "roles: team copied",
    ("media", "on_event_copied handled event.copied"): "media: records copied",
    ("events", "on_media_copied handled media.copied"): "events: URLs written",
}


# --- building the event over HTTP ------------------------------------------

def child(kind, n, ticket_ids):
    """A create body for the n-th child of `kind`; `ticket_ids`: the event's tickets."""
    def ticket(k=0):
        return ticket_ids[(n * CODE_TICKETS + k) % len(ticket_ids)]

    bodies = {
        "tickets": lambda: {"name": f"Ticket {n}", "type": "paid", "price": "25.00",
                            "quantity": 100, "description": "Entry to all talks and workshops"},
        "discount-codes": lambda: {"code": f"EARLY{n}", "type": "percent", "value": "10",
                                   "ticket_ids": [ticket(k) for k in range(CODE_TICKETS)]},
        "sponsors": lambda: {"name": f"Sponsor {n}", "url": f"https://sponsor{n}.example.org",
                             "level": 1 + n % 3, "type": "Gold"},
        "tracks": lambda: {"name": f"Track {n}", "color": f"#{n * 1234567 % 16777216:06x}"},
        "microlocations": lambda: {"name": f"Room {n}", "floor": n % 4},
        "taxes": lambda: {"name": f"VAT {n}", "rate": "19"},
        "social-links": lambda: {"name": f"Link {n}", "link": f"https://social.example.org/{n}"},
        "speakers-calls": lambda: {"announcement": f"Call for speakers {n}",
                                   "starts_at": "2030-01-01T09:00:00+00:00"},
        "custom-forms": lambda: {"form": ("attendee", "speaker", "session")[n % 3],
                                 "field_identifier": f"field{n}", "type": "text"},
        "session-types": lambda: {"name": f"Talk {n}", "length": "00:30"},
        "orders": lambda: {"status": "completed", "amount": "25.00",
                           "buyer_email": f"buyer{n}@example.org"},
        "attendees": lambda: {"firstname": f"Attendee {n}", "ticket_id": ticket()},
        "access-codes": lambda: {"code": f"VIP{n}"},
    }
    return bodies[kind]()


def build_event(system):
    """The source event's owner (a `User`), what a complete copy shows, the
    rows a copy takes and the source's media records."""
    owner = sign_up(system.api, "Owner")
    as_owner = owner.api
    event = ok(as_owner.post("/v1/events", {
        "name": "Typical Summit", "starts_at": "2030-06-01T09:00:00+00:00",
        "ends_at": "2030-06-03T18:00:00+00:00", "timezone": "Europe/Berlin",
        "description": "Three days of talks, workshops and sprints.",
        "location_name": "Berlin"}), 201)
    ref = event["id"]
    for role, name in TEAM:
        member = sign_up(system.api, name, mailbox=system.mailbox)  # an invitee verifies first
        invite = ok(as_owner.post(f"/v1/events/{ref}/role-invites",
                                  {"email": member.email, "role": role}), 201)
        ok(member.api.patch(f"/v1/role-invites/{invite['id']}", {"status": "accepted"}))
    print("build: team of 3 in place", flush=True)
    ticket_ids, sponsor_ids, rows = [], [], 0
    for kind, count in {**COPIED, **LEFT_BEHIND}.items():
        for n in range(1, count + 1):
            made = ok(as_owner.post(f"/v1/events/{ref}/{kind}", child(kind, n, ticket_ids)),
                      201)
            {"tickets": ticket_ids, "sponsors": sponsor_ids}.get(kind, []).append(made["id"])
        rows += count if kind in COPIED else 0
        print(f"build: {count} {kind}", flush=True)
    rows += COPIED["discount-codes"] * CODE_TICKETS
    images = [("original", image("teal", (1400, 600))), ("logo", image("navy", (400, 200)))]
    for slot, content in images:
        ok(as_owner.put(f"/v1/events/{ref}/images/{slot}", data=content,
                        headers={"Content-Type": "image/png"}))
    for n, sponsor_id in enumerate(sponsor_ids):
        ok(as_owner.put(f"/v1/sponsors/{sponsor_id}/logo",
                        data=image((n * 15, 90, 200), (300, 150)),
                        headers={"Content-Type": "image/png"}))
    print(f"build: {len(images)} event images and {len(sponsor_ids)} sponsor logos", flush=True)
    source = wait_for_source(as_owner, ref)
    records = media_records(system, ref)
    print(f"build: event {ref}: {rows} rows a copy takes, {records} media records", flush=True)
    return owner, source, rows, records


def wait_for_source(owner, ref, timeout=30):
    """What the source shows once all its images are in place."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = ok(owner.get(f"/v1/events/{ref}"))
        sponsors = ok(owner.get(f"/v1/events/{ref}/sponsors", params={"limit": 200}))["items"]
        if all(event[field] for field in IMAGE_FIELDS) and all(s["logo_url"] for s in sponsors):
            team = ok(owner.get(f"/v1/events/{ref}/roles", params={"limit": 200}))["items"]
            return {"id": ref, "urls": {field: event[field] for field in IMAGE_FIELDS},
                    "sponsor_urls": {s["logo_url"] for s in sponsors},
                    "sponsors": len(sponsors), "team": members(team)}
        time.sleep(0.1)
    raise RuntimeError(f"event {ref}: its images never all showed")


def media_records(system, event_id):
    from sqlalchemy import text
    with system.engine("media").connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM media WHERE event_id = :event"
                                      " AND deleted_at IS NULL"), {"event": event_id})


def members(team):
    return sorted((member["email"], member["role"]) for member in team)


# --- one copy, timed --------------------------------------------------------

class Poller:
    """The checks a copy must pass, each polled with its client of `clients`
    (check -> `Api`) until it passes."""

    def __init__(self, clients, source, copy_id, interval):
        self.source, self.copy_id = source, copy_id
        self.clients = clients
        self.interval = interval
        self.gets = []  # ms each GET took

    def get(self, check, path, **params):
        start = time.perf_counter()
        answer = ok(self.clients[check].get(path, params=params or None))
        self.gets.append(ms_since(start))
        return answer

    def team(self):
        team = self.get("team", f"/v1/events/{self.copy_id}/roles", limit=200)["items"]
        return members(team) == self.source["team"]

    def event(self):
        event = self.get("event", f"/v1/events/{self.copy_id}")
        return all(event[field] and event[field] != self.source["urls"][field]
                   for field in IMAGE_FIELDS)

    def sponsors(self):
        sponsors = self.get("sponsors", f"/v1/events/{self.copy_id}/sponsors",
                            limit=200)["items"]
        return (len(sponsors) == self.source["sponsors"]
                and all(s["logo_url"] and s["logo_url"] not in self.source["sponsor_urls"]
                        for s in sponsors))

    def until(self, check, start, deadline):
        """Poll `check` until it passes; ms from `start` to the answer that passed."""
        while not getattr(self, check)():
            if time.monotonic() > deadline:
                raise RuntimeError(f"copy {self.copy_id}: the {check} check never passed")
            eventlet.sleep(self.interval)
        return ms_since(start)

    def all_pass(self, start, timeout):
        """ms from `start` to the answer with which each check passed, each
        check polled by a green thread of its own."""
        deadline = time.monotonic() + timeout
        threads = {check: eventlet.spawn(self.until, check, start, deadline)
                   for check in CHECKS}
        return {check: thread.wait() for check, thread in threads.items()}


CHECKS = ("team", "event", "sponsors")


def copy_once(owner, source, number, interval, timeout=30):
    """One copy by the `owner` (a `User`), its checks polled at once, each
    on a connection of its own."""
    request_id = f"e2e-copy-{number}-{uuid.uuid4().hex[:6]}"
    sent_at = time.time()
    start = time.perf_counter()
    answer = owner.api.post(f"/v1/events/{source['id']}/copy",
                            headers={"X-Request-Id": request_id})
    copied = ok(answer, 201)
    post_ms = ms_since(start)
    poller = Poller({check: owner.session() for check in CHECKS}, source, copied["id"],
                    interval)
    passed = poller.all_pass(start, timeout)
    return {"request_id": request_id, "sent_at": sent_at, "copy_id": copied["id"],
            "post_ms": post_ms, **{f"{check}_ms": ms for check, ms in passed.items()},
            "done_ms": max(passed.values()), "gets": poller.gets}


# --- the services' log lines: when each handler finished --------------------

def handler_times(system, copies):
    """Per copy, stage -> ms after the POST was sent, from the services' logs."""
    wanted = {copy["request_id"]: copy for copy in copies}
    stages = {copy["request_id"]: {} for copy in copies}
    for service in ("events", "roles", "media"):
        for line in system.log_text(service).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            copy = wanted.get(record.get("request_id"))
            if copy is None:
                continue
            for (name, text), stage in HANDLERS.items():
                if name == service and record.get("message", "").startswith(text):
                    logged = datetime.fromisoformat(record["time"]).timestamp()
                    stages[copy["request_id"]][stage] = (logged - copy["sent_at"]) * 1000
    return stages


# --- reporting ----------------------------------------------------------------

def describe(values):
    return {"p50": percentile(values, 0.50), "p99": percentile(values, 0.99),
            "min": min(values), "max": max(values), "mean": statistics.fmean(values)}


def table(copies, stages):
    header = ["from sending the POST to …", "p50 ms", "p99 ms", "min ms", "max ms", "mean ms"]
    series = [("the POST's answer (201; the team is in place)", [c["post_ms"] for c in copies])]
    for stage in HANDLERS.values():
        values = [s[stage] for s in stages.values() if stage in s]
        if values:
            series.append((f"{stage} (its log line, ms precision)", values))
    series += [
        ("GET …/roles: the team shows", [c["team_ms"] for c in copies]),
        ("GET the event: its own image URLs show", [c["event_ms"] for c in copies]),
        ("GET …/sponsors: their own logo URLs show", [c["sponsors_ms"] for c in copies]),
        ("all three shown: the latency", [c["done_ms"] for c in copies]),
    ]
    rows = []
    for label, values in series:
        d = describe(values)
        rows.append([label, *(f"{d[key]:.1f}" for key in ("p50", "p99", "min", "max", "mean"))])
    return header, rows


def poll_note(copies, interval_ms):
    gets = [ms for copy in copies for ms in copy["gets"]]
    get_ms = statistics.fmean(gets)
    polls = statistics.fmean(len(copy["gets"]) for copy in copies)
    period = interval_ms + get_ms
    return (f"Polling: the three checks are polled at once, each by its own green thread"
            f" and connection, with {interval_ms:g} ms sleep between its GETs; a GET took"
            f" {get_ms:.1f} ms on average ({percentile(gets, 0.5):.1f} ms median),"
            f" {polls:.1f} GETs per copy in all. A state shows at some instant between two"
            f" reads of its check (a poll period: {period:.1f} ms, the sleep plus a GET) and"
            f" is seen when the GET that read it answers, so the measured time overstates the"
            f" moment the copy was complete by half a period plus the part of a GET after its"
            f" read on average, {period / 2:.0f}–{period / 2 + get_ms:.0f} ms, and by at most"
            f" a period plus a GET, {period + get_ms:.0f} ms. The polling GETs run on the same"
            f" 2 cores as the services, and the POST's own answer time is a floor.")


def verdict(value, goal):
    return f"{value:.1f} ms, goal ≤ {goal} ms: {'met' if value <= goal else 'not met'}"


def docs_section(copies, stages, args, host, engine, rows, records):
    header, body = table(copies, stages)
    done = describe([c["done_ms"] for c in copies])
    command = "PYTHONPATH=. .venv/bin/python -m bench.e2e_copy_bench"
    if (args.copies, args.warm_up, args.poll_ms, args.through_proxies) != (100, 3, 5, False):
        command += (f" --copies {args.copies} --warm-up {args.warm_up} --poll-ms {args.poll_ms}"
                    + (" --through-proxies" if args.through_proxies else ""))
    return f"""## End-to-end copy latency

{date.today().isoformat()}, {host}. {postgres_settings(engine)}, RabbitMQ, the five
services (`nameko run`, one process each, as `make run` starts them) and the client on the
same machine.

```
{command}
```

{len(copies)} copies, one at a time ({args.warm_up} unmeasured before them); times in ms.

{markdown_table(header, body)}

- p50: {verdict(done['p50'], GOAL_P50_MS)}.
- p99: {verdict(done['p99'], GOAL_P99_MS)}.

Method. The benchmark starts a system of its own (`tests.support.system.System`: the five
services as real `nameko run` processes, on databases `{{service}}_e2e_bench` and a RabbitMQ
vhost of their own; {"through" if args.through_proxies else "without"} the TCP proxies the
reliability tests put between them and the servers). Over HTTP it builds a typical event: a
team of three (owner, organizer and coorganizer, each verified, invited and accepted), {rows}
rows a copy takes ({", ".join(f"{count} {kind}" for kind, count in COPIED.items())}, and
{CODE_TICKETS} ticket links per discount code) plus orders, attendees and access codes it
leaves behind, and {records} media records: the original image with its 3 renditions, the
logo and 15 sponsor logos. Each copy: `POST /v1/events/{{event}}/copy` as the owner (the
gateway answers once the roles service has copied the team), then, as the owner and all
three at once, poll `GET /v1/events/{{copy}}/roles` until the team is the source's,
`GET /v1/events/{{copy}}` until its five image URLs are set and differ from the source's,
and `GET /v1/events/{{copy}}/sponsors` until every sponsor's logo URL is set and differs
from the source's. The latency is from sending the POST to the answer of the GET with which
the last of the three checks passed. The handler rows come from the services' JSON log
lines of the copy's request id (each logged when the handler's transaction has committed;
millisecond timestamps): the media service copies the records on `event.copied` and
announces `media.copied`, which the events service applies. p99 is the nearest-rank
percentile: the {max(1, -(-99 * len(copies) // 100))}th of the {len(copies)} sorted times.

{poll_note(copies, args.poll_ms)}
"""


# --- main -----------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--warm-up", type=int, default=3)
    parser.add_argument("--poll-ms", type=float, default=5)
    parser.add_argument("--through-proxies", action="store_true",
                        help="keep System's TCP proxies between the services and the servers")
    parser.add_argument("--no-docs", action="store_true",
                        help="do not write the section of docs/benchmarks.md")
    args = parser.parse_args()
    if args.copies < 50:
        parser.error("--copies: at least 50")
    return args


def main():
    args = parse_args()
    host = machine()
    with tempfile.TemporaryDirectory(prefix="e2e-copy-bench-") as workdir:
        system = System(SYSTEM_NAME, workdir, proxies=args.through_proxies)
        if any(url.rsplit("/", 1)[-1].endswith("_test") for url in system.urls.values()):
            raise SystemExit(f"refusing to run on test databases: {system.urls}")
        print(f"starting the system on {', '.join(system.urls.values())},"
              f" vhost {system.vhost}", flush=True)
        started = False
        try:
            system.start()
            started = True
            print("system healthy", flush=True)
            owner, source, rows, records = build_event(system)
            for number in range(args.warm_up):
                copy_once(owner, source, -number - 1, args.poll_ms / 1000)
            print(f"warmed up ({args.warm_up} copies)", flush=True)
            copies = []
            for number in range(args.copies):
                copies.append(copy_once(owner, source, number, args.poll_ms / 1000))
                if (number + 1) % 10 == 0:
                    last = [c["done_ms"] for c in copies[-10:]]
                    print(f"copies {number + 1}/{args.copies}: last 10 median"
                          f" {percentile(last, 0.5):.1f} ms, max {max(last):.1f} ms",
                          flush=True)
            stages = handler_times(system, copies)
            section = docs_section(copies, stages, args, host, system.engine("events"), rows,
                                   records)
        except BaseException:
            if started:
                print(system.log_tail(), file=sys.stderr)
            raise
        finally:
            system.close()
    if not args.no_docs:
        write_section(DOCS, "End-to-end copy latency", section)
        print(f"written: {DOCS}")
    print(plain_table(*table(copies, stages)))
    print(poll_note(copies, args.poll_ms))
    done = describe([c["done_ms"] for c in copies])
    print(f"RESULT e2e_copy p50_ms={done['p50']:.1f} p99_ms={done['p99']:.1f}"
          f" copies={len(copies)} min_ms={done['min']:.1f} max_ms={done['max']:.1f}"
          f" mean_ms={done['mean']:.1f}")


if __name__ == "__main__":
    main()
