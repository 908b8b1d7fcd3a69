"""Event copy benchmark: our set-based copy against the seed's per-row copy.

    PYTHONPATH=. .venv/bin/python -m bench.copy_bench [--runs 5] [--sizes 100,1000,10000]
        [--database-url postgresql+psycopg2://root@127.0.0.1:5432/events_bench]

For each size N it builds, set-based (`INSERT … SELECT generate_series`), a
published source event whose copy writes N rows: live related rows spread
over the kinds the copy takes (`SHARES`) and the discount-code ↔ ticket
link rows, plus rows that must not be copied: orders, attendees,
access codes with their ticket links, and a few soft-deleted tickets and
sponsors. Then it times, on the same database, run after run in turn:

- ours:  `services.events.copy.copy_event` in a fresh session, committed;
- seed:  the seed blog's recipe on the same ORM models: load the event and
         its live rows, then per object read its id (reloading it), expunge,
         make_transient, drop the id, point it at the new event, add, commit
         (one commit per row);
- floor: one `INSERT INTO tickets … SELECT … FROM tickets` of N tickets of a
         second source event, committed: what copying N rows costs at least.

Each timing covers the whole transaction, commit included. Every copy is
checked (row counts per kind), then deleted and the tables vacuumed, so all
runs start from the same database. The table goes to stdout and into
`docs/benchmarks.md`; the last line printed is the `RESULT` line for the
largest size.
"""
import argparse
import functools
import platform
import re
import secrets
import statistics
import time
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, make_transient

from bench.common import (
    empty_database,
    markdown_table,
    ms_since,
    plain_table,
    postgres_settings,
    vacuum_analyze,
)
from services.events import models
from services.events.copy import ALWAYS, copy_event
from services.events.events import new_identifier
from shared.migrate import migrate

DEFAULT_URL = "postgresql+psycopg2://root@127.0.0.1:5432/events_bench"
DOCS = Path("docs/benchmarks.md")
SEED_SLOW_S = 60  # a seed run slower than this: only MIN_RUNS runs of it
MIN_RUNS = 3

# Share of the related rows per copied kind, and how a row g looks.
SHARES = {
    "tickets": (0.40, "name, type, price, quantity, sales_starts_at, sales_ends_at, description",
                "'Ticket ' || g, (ARRAY['free', 'paid', 'donation'])[1 + g % 3], (g % 50) * 1.5,"
                " 100 + g % 400, now() - interval '1 day', now() + interval '30 days',"
                " 'Entry to all talks and workshops, lunch included. Ticket ' || g"),
    "discount_codes": (0.10, "code, type, value, tickets_number, valid_from, valid_till",
                       "'CODE' || g, (ARRAY['amount', 'percent'])[1 + g % 2], 5 + g % 20, 10,"
                       " now(), now() + interval '30 days'"),
    "sponsors": (0.10, "name, url, level, type, description, logo_url",
                 "'Sponsor ' || g, 'https://sponsor' || g || '.example.com', 1 + g % 3, 'Gold',"
                 " 'A sponsor that supports open source. Sponsor ' || g,"
                 " 'http://localhost:8000/media/' || md5(g::text)"),
    "tracks": (0.08, "name, color, description",
               "'Track ' || g, '#' || lpad(to_hex(g * 2654435 % 16777216), 6, '0'),"
               " 'Talks about topic ' || g"),
    "microlocations": (0.08, "name, floor, room, latitude, longitude",
                       "'Room ' || g, g % 5, 'R' || g, 52.5 + g * 0.0001, 13.4 + g * 0.0001"),
    "taxes": (0.04, "name, rate, tax_id, is_tax_included_in_price",
              "'VAT ' || g, 19.00, 'DE' || g, g % 2 = 0"),
    "social_links": (0.06, "name, link", "'Link ' || g, 'https://social.example.com/' || g"),
    "speakers_calls": (0.02, "announcement, starts_at, ends_at, privacy",
                       "'Call for speakers ' || g, now(), now() + interval '60 days', 'public'"),
    "custom_forms": (0.10, "form, field_identifier, type, is_required, is_included",
                     "(ARRAY['attendee', 'speaker', 'session'])[1 + g % 3], 'field_' || g,"
                     " 'text', g % 2 = 0, true"),
    "session_types": (0.02, "name, length", "'Type ' || g, '00:30'"),
}
CODE_TICKETS = 3    # tickets linked to each discount code (link rows not counted in N)
ACCESS_TICKETS = 2  # tickets linked to each access code (never copied)

LIVE_TICKETS = ("SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn, count(*) OVER () AS total"
                " FROM tickets WHERE event_id = :event AND deleted_at IS NULL")
FLOOR_COLUMNS = "name, type, price, quantity, sales_starts_at, sales_ends_at, description"


# --- the database --------------------------------------------------------

def prepare_database(url):
    """Create and migrate the bench database; return an engine on it."""
    migrate("services/events", url)
    return create_engine(url)


# --- building the source events ------------------------------------------

def row_counts(size):
    """Rows per copied kind such that they and the discount-code ↔ ticket
    links the copy writes add up to `size`; tickets take the remainder."""
    kinds = size / (1 + SHARES["discount_codes"][0] * CODE_TICKETS)
    counts = {table: int(share * kinds) for table, (share, _, _) in SHARES.items()}
    counts["tickets"] += size - sum(counts.values()) - counts["discount_codes"] * CODE_TICKETS
    return counts


def insert_event(conn, name):
    return conn.execute(text(
        "INSERT INTO events (identifier, name, description, starts_at, ends_at, timezone,"
        " location_name, state, privacy, owner_id, logo_url, original_image_url,"
        " large_image_url, thumbnail_image_url, icon_image_url)"
        " VALUES (:identifier, :name, 'Three days of talks, workshops and sprints.',"
        " now() + interval '60 days', now() + interval '62 days', 'Europe/Berlin', 'Berlin',"
        " 'published', 'public', 1, :media || 'logo', :media || 'original', :media || 'large',"
        " :media || 'thumbnail', :media || 'icon') RETURNING id"),
        {"identifier": "b" + secrets.token_hex(4)[:7], "name": name,
         "media": "http://localhost:8000/media/"},
    ).scalar_one()


def insert_rows(conn, table, event_id, count, deleted=False):
    _, columns, values = SHARES[table]
    conn.execute(text(
        f"INSERT INTO {table} (event_id, deleted_at, {columns})"
        f" SELECT :event, CASE WHEN :deleted THEN now() END, {values}"
        f" FROM generate_series(1, :count) g"),
        {"event": event_id, "count": count, "deleted": deleted})


def link_tickets(conn, link_table, owner_table, owner_column, event_id, per_owner):
    """Link each of the event's `owner_table` rows to `per_owner` distinct live tickets."""
    conn.execute(text(
        f"INSERT INTO {link_table} ({owner_column}, ticket_id)"
        f" SELECT owner.id, t.id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn"
        f"  FROM {owner_table} WHERE event_id = :event) owner"
        f" CROSS JOIN generate_series(0, :per_owner - 1) k"
        f" JOIN ({LIVE_TICKETS}) t ON t.rn = (owner.rn * :per_owner + k) % t.total"),
        {"event": event_id, "per_owner": per_owner})


def insert_uncopied(conn, event_id, size):
    """Orders, attendees and access codes: the copy must leave them behind."""
    conn.execute(text(
        "INSERT INTO orders (event_id, status, amount, buyer_email)"
        " SELECT :event, 'completed', 25.00, 'buyer' || g || '@example.com'"
        " FROM generate_series(1, :count) g"), {"event": event_id, "count": max(1, size // 10)})
    conn.execute(text(
        "INSERT INTO attendees (event_id, firstname, lastname, email, ticket_id, order_id)"
        " SELECT :event, 'First ' || a.g, 'Last', 'attendee' || a.g || '@example.com', t.id, o.id"
        " FROM generate_series(0, :count - 1) a(g)"
        f" JOIN ({LIVE_TICKETS}) t ON t.rn = a.g % t.total"
        " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn, count(*) OVER () AS total"
        "  FROM orders WHERE event_id = :event) o ON o.rn = a.g % o.total"),
        {"event": event_id, "count": max(1, size // 5)})
    conn.execute(text(
        "INSERT INTO access_codes (event_id, code, tickets_number, valid_from, valid_till)"
        " SELECT :event, 'ACCESS' || g, 5, now(), now() + interval '30 days'"
        " FROM generate_series(1, :count) g"), {"event": event_id, "count": max(1, size // 50)})
    link_tickets(conn, "access_code_tickets", "access_codes", "access_code_id", event_id,
                 ACCESS_TICKETS)


def build_source_event(engine, size):
    """The event to copy: `size` live related rows, plus what must not be copied."""
    with engine.begin() as conn:
        event_id = insert_event(conn, f"Source event, {size} rows")
        for table, count in row_counts(size).items():
            insert_rows(conn, table, event_id, count)
        for table in ("tickets", "sponsors"):
            insert_rows(conn, table, event_id, max(1, size // 100), deleted=True)
        link_tickets(conn, "discount_code_tickets", "discount_codes", "discount_code_id",
                     event_id, CODE_TICKETS)
        insert_uncopied(conn, event_id, size)
    return event_id


def build_floor_event(engine, size):
    """A second source event with `size` tickets, for the floor."""
    with engine.begin() as conn:
        event_id = insert_event(conn, f"Floor source, {size} tickets")
        insert_rows(conn, "tickets", event_id, size)
    return event_id


# --- the three ways to copy, each timed over its whole transaction -------

def time_ours(engine, source_id):
    start = time.perf_counter()
    with Session(engine) as session:
        copy_id = copy_event(session, source_id, actor_id=1)["id"]
        session.commit()
    return ms_since(start), copy_id


def time_seed(engine, source_id, expire_on_commit=True):
    """The seed blog's copy, line by line, with SQLAlchemy's default session.
    Each loop first reads `row.id`, as the blog's `ticket_id = ticket.id`
    does: the previous commit expired the row, so that read reloads it (one
    SELECT per row); without it make_transient would leave an empty object
    (the NULL-column inserts of upstream #5735). Every commit also expires
    every object still in the session, so the per-row cost grows with the
    event. `expire_on_commit=False` gives the seed's cheapest working form
    ("seed lean": no reloads, no expiry; still one commit per row)."""
    start = time.perf_counter()
    with Session(engine, expire_on_commit=expire_on_commit) as session:
        event = session.scalars(select(models.Event).where(models.Event.id == source_id)).one()
        related = [
            session.scalars(select(model).where(model.event_id == source_id,
                                                model.deleted_at.is_(None))).all()
            for model in ALWAYS
        ]
        session.expunge(event)
        make_transient(event)
        delattr(event, "id")
        event.identifier = new_identifier(session)
        session.add(event)
        session.commit()
        for rows in related:
            for row in rows:
                row_id = row.id  # noqa: F841 (the blog's line; it reloads the expired row)
                session.expunge(row)
                make_transient(row)
                row.event_id = event.id
                delattr(row, "id")
                session.add(row)
                session.commit()
        copy_id = event.id
    return ms_since(start), copy_id


def time_floor(engine, source_id):
    """One INSERT … SELECT of the source's tickets into an event made beforehand."""
    with engine.begin() as conn:
        target_id = insert_event(conn, "Floor target")
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(
            f"INSERT INTO tickets (event_id, {FLOOR_COLUMNS}) SELECT :target, {FLOOR_COLUMNS}"
            f" FROM tickets WHERE event_id = :source AND deleted_at IS NULL"),
            {"target": target_id, "source": source_id})
    return ms_since(start), target_id


# --- checking and removing a copy ----------------------------------------

def related_counts(engine, event_id):
    """Rows per child table of the event, and its discount-code ↔ ticket links."""
    with engine.connect() as conn:
        counts = {
            table.name: conn.scalar(text(
                f"SELECT count(*) FROM {table.name}"
                f" WHERE event_id = :event AND deleted_at IS NULL"), {"event": event_id})
            for table in models.Base.metadata.sorted_tables
            if "event_id" in table.c and "deleted_at" in table.c
        }
        counts["discount_code_tickets"] = conn.scalar(text(
            "SELECT count(*) FROM discount_code_tickets l JOIN discount_codes d"
            " ON d.id = l.discount_code_id WHERE d.event_id = :event"), {"event": event_id})
    return counts


def expected_counts(source_counts, method):
    copied = {table: 0 for table in source_counts}
    if method == "floor":
        copied["tickets"] = source_counts["tickets"]
        return copied
    copied.update({model.__tablename__: source_counts[model.__tablename__] for model in ALWAYS})
    if method == "ours":  # the seed (either form) drops the links
        copied["discount_code_tickets"] = source_counts["discount_code_tickets"]
    return copied


def delete_event(engine, event_id):
    """Delete an event with every row hanging off it, then vacuum."""
    with engine.begin() as conn:
        for table in reversed(models.Base.metadata.sorted_tables):
            if table.name == "events":
                conn.execute(text("DELETE FROM events WHERE id = :event"), {"event": event_id})
            elif "event_id" in table.c:
                conn.execute(text(f"DELETE FROM {table.name} WHERE event_id = :event"),
                             {"event": event_id})
            else:  # a link table: its first column points at an event's child
                owner = next(iter(table.primary_key.columns))
                target = next(iter(owner.foreign_keys)).column.table.name
                conn.execute(text(
                    f"DELETE FROM {table.name} WHERE {owner.name} IN"
                    f" (SELECT id FROM {target} WHERE event_id = :event)"), {"event": event_id})
        conn.execute(text("DELETE FROM outbox"))
    vacuum_analyze(engine)


# --- measuring ----------------------------------------------------------

METHODS = {"ours": time_ours, "seed": time_seed,
           "seed_lean": functools.partial(time_seed, expire_on_commit=False),
           "floor": time_floor}


def run_once(engine, method, source_id, source_counts):
    elapsed, copy_id = METHODS[method](engine, source_id)
    copied = related_counts(engine, copy_id)
    if copied != expected_counts(source_counts, method):
        raise AssertionError(f"{method} copied {copied}, expected "
                             f"{expected_counts(source_counts, method)}")
    delete_event(engine, copy_id)
    return elapsed


def measure_size(engine, size, runs, warm_up):
    """Times in ms per method for one size, the methods taking turns."""
    empty_database(engine)
    sources = {"ours": build_source_event(engine, size), "floor": build_floor_event(engine, size)}
    sources["seed"] = sources["seed_lean"] = sources["ours"]
    vacuum_analyze(engine)
    counts = {method: related_counts(engine, source) for method, source in sources.items()}
    if warm_up:
        for method in METHODS:
            run_once(engine, method, sources[method], counts[method])
    times = {method: [] for method in METHODS}
    for run in range(runs):
        for method in METHODS:
            if method == "seed" and run >= MIN_RUNS and max(times["seed"]) > SEED_SLOW_S * 1000:
                continue
            times[method].append(run_once(engine, method, sources[method], counts[method]))
    return times


# --- reporting ----------------------------------------------------------

def summary(times):
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "runs": len(times)}


def table_rows(results):
    header = ["size", "ours ms", "seed ms", "seed lean ms", "floor ms", "speedup seed/ours",
              "speedup lean/ours", "floor_ratio ours/floor", "runs ours/seed/lean/floor"]
    rows = []
    for size, stats in results.items():
        ours, seed, lean, floor = (stats[method] for method in METHODS)
        rows.append([
            str(size),
            *(f"{s['median']:.2f} ({s['min']:.2f}–{s['max']:.2f})"
              for s in (ours, seed, lean, floor)),
            f"{seed['median'] / ours['median']:.1f}",
            f"{lean['median'] / ours['median']:.1f}",
            f"{ours['median'] / floor['median']:.2f}",
            "/".join(str(s["runs"]) for s in (ours, seed, lean, floor)),
        ])
    return header, rows


def result_line(results):
    size = max(results)
    ours, seed, floor = (results[size][method]["median"] for method in ("ours", "seed", "floor"))
    return (f"RESULT copy_rows={size} ours_ms={ours:.2f} seed_ms={seed:.2f}"
            f" floor_ms={floor:.2f} speedup={seed / ours:.2f} floor_ratio={ours / floor:.2f}")


def distribution():
    shares = sorted(SHARES.items(), key=lambda item: -item[1][0])
    return ", ".join(f"{share:.0%} {table.replace('_', ' ')}" for table, (share, _, _) in shares)


def docs_section(results, command, engine):
    header, rows = table_rows(results)
    fewer = [size for size, stats in results.items()
             if stats["seed"]["runs"] < stats["ours"]["runs"]]
    note = (f" At {', '.join(map(str, fewer))} rows a seed run took over {SEED_SLOW_S} s,"
            f" so the seed ran only {MIN_RUNS} times there." if fewer else "")
    return f"""## Event copy

{date.today().isoformat()}, 2 cores, {postgres_settings(engine)} on the same machine,
Python {platform.python_version()}, psycopg2 without eventlet.

```
{command}
```

Times in milliseconds: median (min–max) over the runs counted in the last column.

{markdown_table(header, rows)}

Method. For each size N the benchmark builds, with `INSERT … SELECT generate_series`,
a published source event with live related rows:
{distribution()}.
Each discount code is linked to {CODE_TICKETS} tickets; N counts those link rows too, so
N is every row the copy writes besides the event (the floor writes N rows as well).
The event also has rows that must not be copied: N/10 orders, N/5 attendees, N/50 access
codes ({ACCESS_TICKETS} ticket links each), and N/100 soft-deleted tickets and sponsors.
After `VACUUM ANALYZE` the four ways take turns, each timed over its whole transaction
including the commit:
**ours** is `services.events.copy.copy_event` in a fresh session; **seed** is the seed
blog's recipe on the same ORM models with SQLAlchemy's default session (load the event and
its live rows; then per object read its id as the blog's `ticket_id = ticket.id` does,
which reloads the row the previous commit expired, expunge, `make_transient`, drop the
id, point it at the new event, add, commit: one commit per row; the discount-code ↔ ticket
links are dropped as the seed drops them, so it writes fewer rows than ours); a commit
expires every object left in the session, so its cost per row grows with the event's size;
**seed lean** is the same recipe in a session that does not expire on commit, the seed's
cheapest working form (one commit per row, nothing reloaded);
**floor** is a single `INSERT INTO tickets … SELECT` of N tickets of a second event into
an event created beforehand.
The seed's time is bound by commit latency (a WAL flush per row), so it grows on slower
disks, where ours and the floor hardly change.
Every copy's row counts per kind are checked, then the copy is deleted and the tables
vacuumed, so every run starts from the same database. One unmeasured warm-up run of each
way precedes the first size.{note}
"""


def write_docs(section):
    """Put the section into docs/benchmarks.md, replacing an earlier one."""
    old = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## Event copy\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: section, old) if pattern.search(old) else old + section
    DOCS.parent.mkdir(exist_ok=True)
    DOCS.write_text(new.rstrip("\n") + "\n")


# --- main ---------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="100,1000,10000",
                        type=lambda value: [int(size) for size in value.split(",")])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    return parser.parse_args()


def main():
    args = parse_args()
    if set(SHARES) != {model.__tablename__ for model in ALWAYS}:
        raise SystemExit("copy.ALWAYS changed: update SHARES to the kinds it copies")
    engine = prepare_database(args.database_url)
    results = {}
    for number, size in enumerate(args.sizes):
        times = measure_size(engine, size, args.runs, warm_up=number == 0)
        results[size] = {method: summary(values) for method, values in times.items()}
        print(f"size {size}: done", flush=True)
    command = "PYTHONPATH=. .venv/bin/python -m bench.copy_bench"
    if args.runs != 5 or args.sizes != [100, 1000, 10000]:
        command += f" --runs {args.runs} --sizes {','.join(map(str, args.sizes))}"
    write_docs(docs_section(results, command, engine))
    print(plain_table(*table_rows(results)))
    print(result_line(results))


if __name__ == "__main__":
    main()
