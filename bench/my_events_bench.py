"""`GET /v1/events` ("my events") under load: a user who holds a role on
1,000 events among 100,000, asked with wrk at 50 connections for the first
page, and for a name search; p50, p99 and requests/s.

    PYTHONPATH=. .venv/bin/python -m bench.my_events_bench [--seconds 20]
        [--connections 50] [--events 100000] [--mine 1000] [--no-docs]

It starts a system of its own (`tests.support.system.System`, the services
reaching RabbitMQ and PostgreSQL directly), signs the user up over HTTP,
and writes the other events straight into the events database and the
user's roles straight into the roles database (as the services' own
handlers would have): making 100,000 events over HTTP would take the
benchmark's whole budget. Of the user's events one in ten is deleted, so
the lists skip deleted events as they must.
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import text  # noqa: E402

os.environ.setdefault("TEST_DATABASE_URL",
                      "postgresql+psycopg2://root@127.0.0.1:5432/{service}_bench")

from bench.common import machine, markdown_table, write_section  # noqa: E402
from bench.gateway_bench import wrk  # noqa: E402
from tests.support.http import ok, sign_up  # noqa: E402
from tests.support.system import System  # noqa: E402

DOCS = Path("docs/benchmarks.md")

EVENTS = """
INSERT INTO events (identifier, name, starts_at, ends_at, timezone, state, privacy, owner_id,
                    deleted_at)
SELECT lpad(to_hex(n), 8, '0'), 'Event ' || n, now() + n * interval '1 hour',
       now() + n * interval '1 hour' + interval '2 hours', 'UTC',
       CASE WHEN n % 2 = 0 THEN 'published' ELSE 'draft' END, 'public', :owner,
       CASE WHEN n % (:every * 10) = 0 THEN now() END
FROM generate_series(1, :count) AS n
"""
KNOWN = """
INSERT INTO known_events (id, identifier, deleted_at)
SELECT id, identifier, deleted_at FROM unnest(:ids, :identifiers, :deleted)
    AS e(id, identifier, deleted_at)
"""
MINE = """
INSERT INTO users_events_roles (user_id, event_id, role)
SELECT :user, id, CASE WHEN id % 3 = 0 THEN 'owner' ELSE 'coorganizer' END
FROM unnest(:ids) AS id
"""


def seed(system, user_id, count, mine):
    """`count` events, every `count // mine`-th of them the user's."""
    every = count // mine
    with system.engine("events").begin() as db:
        db.execute(text(EVENTS), {"owner": user_id, "count": count, "every": every})
        rows = db.execute(text("SELECT id, identifier, deleted_at FROM events "
                               "WHERE name ~ '^Event [0-9]+$' "
                               "AND substr(name, 7)::int % :every = 0"), {"every": every}).all()
    with system.engine("roles").begin() as db:
        db.execute(text(KNOWN), {"ids": [r.id for r in rows],
                                 "identifiers": [r.identifier for r in rows],
                                 "deleted": [r.deleted_at for r in rows]})
        db.execute(text(MINE), {"user": user_id, "ids": [r.id for r in rows]})
    for service in ("events", "roles"):
        with system.engine(service).connect() as db:
            db.execute(text("ANALYZE"))
    return len(rows), sum(r.deleted_at is None for r in rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--mine", type=int, default=1_000)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    host = f"{date.today().isoformat()}, {machine()}"
    system = System("my_events_bench", Path(tempfile.mkdtemp(prefix="my-events-")),
                    proxies=False).start()
    runs = {}
    try:
        user = sign_up(system.api, "busy")
        print(f"seeding {args.events:,} events, {args.mine:,} of them the user's", flush=True)
        held, live = seed(system, user.id, args.events, args.mine)
        asked = time.perf_counter()
        listed = ok(user.api.get("/v1/events"))  # a miss: asked of roles and events
        miss_ms = round(1000 * (time.perf_counter() - asked), 1)
        assert listed["total"] == live, (listed["total"], live)
        urls = {"first page": "/v1/events",
                "name search": "/v1/events?q=Event%201&state=published"}
        for name, path in urls.items():
            print(f"{name}: warming up, then {args.seconds} s at {args.connections} "
                  "connections", flush=True)
            wrk(system.base_url + path, 3, args.connections, user.token)
            runs[name] = wrk(system.base_url + path, args.seconds, args.connections, user.token)
    finally:
        system.close()
    for name, run in runs.items():
        print(f"{name:>12}: {run['rps']:.0f} requests/s, p50 {run['p50_ms']} ms, "
              f"p99 {run['p99_ms']} ms, errors {run['errors']}")
    first = runs["first page"]
    print(f"RESULT my_events rps={first['rps']} p50_ms={first['p50_ms']} "
          f"p99_ms={first['p99_ms']} errors={first['errors']} held={held} live={live}")
    if not args.no_docs:
        write_section(DOCS, "My events", _section(runs, args, host, held, live, miss_ms))


def _section(runs, args, host, held, live, miss_ms):
    rows = [[name, f"{run['rps']:.0f}", f"{run['p50_ms']}", f"{run['p99_ms']}",
             str(run["errors"])] for name, run in runs.items()]
    return f"""## My events

`make bench-my-events` ({host}): `GET /v1/events` for a user with a role on
{held:,} of {args.events:,} events ({live:,} of them live), wrk with
{args.connections} connections for {args.seconds} s each, the default page
of 50. A page is asked once – the user's events and strongest roles
(`roles.list_my_events`, one query), then the page of those events with an
exact total (`events.list_events`: the ids as one bound array, ordered by
`starts_at`) – and then served from the gateway's read cache until the
user's roles or any listed event change ([architecture](architecture.md#the-read-cache));
the first ask, alone on the system, took {miss_ms} ms.

{markdown_table(["request", "requests/s", "p50 ms", "p99 ms", "errors"], rows)}

When asked, the whole list of ids travels in one RPC call and one query: the
cost grows with the user's events, not with the system's.
"""


if __name__ == "__main__":
    main()
