"""Event copy benchmark: our set-based copy against the seed's per-row copy.

    PYTHONPATH=. .venv/bin/python -m bench.copy_bench [--runs 5]
        [--sizes 100,1000,10000,100000] [--seed-max 10000]
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
runs start from the same database.

The seed's recipe takes about 156 s at 10,000 rows and grows faster than
linearly (each commit expires every object in the session), so above
`--seed-max` it is not run: its time is extrapolated on the straight
log-log line through its medians at the two largest measured sizes (a power
law t ∝ N^k, k their local slope); the page also gives, as an upper
estimate, a fit of t(N) = b·N + c·N² (a cost per row plus, per commit, the
expiry of every object in the session). The lean form (no expiry) is
measured at every size, and the same extrapolation from its smaller sizes is
printed against its measured time as a check.

Progress goes to stdout as it runs; then the table, which also goes into
`docs/benchmarks.md` with a log-log plot (`docs/copy-scaling.png`), and one
`RESULT` line per size, the largest last (an extrapolated seed time is
flagged `seed_extrapolated=1`).
"""
import argparse
import functools
import math
import secrets
import statistics
import time
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, make_transient

from bench.common import (
    empty_database,
    machine,
    markdown_table,
    ms_since,
    plain_table,
    postgres_settings,
    vacuum_analyze,
    write_section,
)
from services.events import models
from services.events.copy import ALWAYS, copy_event
from services.events.events import new_identifier
from shared.migrate import migrate

DEFAULT_URL = "postgresql+psycopg2://root@127.0.0.1:5432/events_bench"
DOCS = Path("docs/benchmarks.md")
PLOT = Path("docs/copy-scaling.png")
SIZES = [100, 1000, 10000, 100000]
SEED_MAX = 10000  # the seed (expiring session) runs up to this size, is extrapolated above
SEED_SLOW_S = 60  # a seed run (either form) slower than this: only MIN_RUNS runs of it
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
               "'Track ' || g, '#' || lpad(to_hex(g::bigint * 2654435 % 16777216), 6, '0'),"
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


def measure_size(engine, size, runs, warm_up, methods):
    """Times in ms per method of `methods` for one size, the methods taking turns."""
    empty_database(engine)
    print(f"size {size}: building the source events", flush=True)
    sources = {"ours": build_source_event(engine, size), "floor": build_floor_event(engine, size)}
    sources["seed"] = sources["seed_lean"] = sources["ours"]
    vacuum_analyze(engine)
    counts = {method: related_counts(engine, source) for method, source in sources.items()}
    if warm_up:
        for method in methods:
            run_once(engine, method, sources[method], counts[method])
        print(f"size {size}: warmed up", flush=True)
    times = {method: [] for method in methods}
    for run in range(runs):
        for method in methods:
            if (method.startswith("seed") and run >= MIN_RUNS
                    and max(times[method]) > SEED_SLOW_S * 1000):
                continue
            times[method].append(run_once(engine, method, sources[method], counts[method]))
            print(f"size {size}: {method} run {run + 1}/{runs}: {times[method][-1]:.2f} ms",
                  flush=True)
    return times


# --- extrapolating the seed --------------------------------------------------

def measured_points(results, method):
    return sorted((n, stats[method]["median"]) for n, stats in results.items()
                  if method in stats and not stats[method].get("extrapolated"))


def power_law(points, size):
    """t at `size` on the straight log-log line through the two largest points."""
    (n1, t1), (n2, t2) = points[-2:]
    return t2 * (size / n2) ** (math.log(t2 / t1) / math.log(n2 / n1))


def fit_quadratic(points):
    """(b, c) ≥ 0 of t(N) = b·N + c·N² through the (N, t) points, least
    squares on the relative error (each point counts alike)."""
    rows = [(size / time, size * size / time) for size, time in points]
    s11 = sum(x1 * x1 for x1, _ in rows)
    s12 = sum(x1 * x2 for x1, x2 in rows)
    s22 = sum(x2 * x2 for _, x2 in rows)
    r1, r2 = sum(x1 for x1, _ in rows), sum(x2 for _, x2 in rows)
    determinant = s11 * s22 - s12 * s12
    if len(rows) >= 2 and determinant > 0:
        b, c = (r1 * s22 - r2 * s12) / determinant, (r2 * s11 - r1 * s12) / determinant
        if b >= 0 and c >= 0:
            return b, c
    linear, quadratic = (r1 / s11, 0.0), (0.0, r2 / s22)
    error = lambda bc: sum((bc[0] * x1 + bc[1] * x2 - 1) ** 2 for x1, x2 in rows)  # noqa: E731
    return min(linear, quadratic, key=error)


def extrapolated(results, method, size):
    """The method's time at `size`, from its measured medians (power law),
    with the quadratic fit's figure as `upper`."""
    points = measured_points(results, method)
    value = power_law(points, size)
    b, c = fit_quadratic(points)
    (n1, t1), (n2, t2) = points[-2:]
    return {"median": value, "min": value, "max": value, "runs": 0, "extrapolated": True,
            "slope": math.log(t2 / t1) / math.log(n2 / n1), "fitted_on": [n1, n2],
            "fit": (b, c), "upper": b * size + c * size * size,
            "fit_points": [n for n, _ in points]}


def lean_check(results, seed_max):
    """The lean form at the sizes above `seed_max`: (size, extrapolated from
    its smaller sizes, measured), to check the extrapolation."""
    smaller = {n: stats for n, stats in results.items() if n <= seed_max}
    if len(smaller) < 2:
        return []
    return [(n, extrapolated(smaller, "seed_lean", n)["median"], stats["seed_lean"]["median"])
            for n, stats in results.items() if n > seed_max]


# --- reporting ----------------------------------------------------------

def summary(times):
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "runs": len(times)}


def cell(stats):
    if stats.get("extrapolated"):
        return f"≈{stats['median']:.0f} (extrapolated)"
    return f"{stats['median']:.2f} ({stats['min']:.2f}–{stats['max']:.2f})"


def ratio(numerator, denominator, digits):
    approximate = "≈" if numerator.get("extrapolated") or denominator.get("extrapolated") else ""
    return f"{approximate}{numerator['median'] / denominator['median']:.{digits}f}"


def table_rows(results):
    header = ["size", "ours ms", "seed ms", "seed lean ms", "floor ms", "speedup seed/ours",
              "speedup lean/ours", "floor_ratio ours/floor", "runs ours/seed/lean/floor"]
    rows = []
    for size, stats in results.items():
        ours, seed, lean, floor = (stats[method] for method in METHODS)
        rows.append([
            str(size),
            *(cell(s) for s in (ours, seed, lean, floor)),
            ratio(seed, ours, 1),
            ratio(lean, ours, 1),
            ratio(ours, floor, 2),
            "/".join(str(s["runs"]) for s in (ours, seed, lean, floor)),
        ])
    return header, rows


def result_line(results, size):
    """The RESULT line of one size (as defined for the largest size before
    100,000 was added; an extrapolated seed time is flagged)."""
    stats = results[size]
    ours, seed, floor = (stats[method]["median"] for method in ("ours", "seed", "floor"))
    line = (f"RESULT copy_rows={size} ours_ms={ours:.2f} seed_ms={seed:.2f}"
            f" floor_ms={floor:.2f} speedup={seed / ours:.2f} floor_ratio={ours / floor:.2f}")
    return line + (" seed_extrapolated=1" if stats["seed"].get("extrapolated") else "")


# --- the plot -----------------------------------------------------------

STYLE = {  # method -> (label, colour, marker)
    "ours": ("ours (set-based INSERT … SELECT per kind)", "tab:blue", "o"),
    "seed": ("seed (per-row clone, commit per row)", "tab:red", "s"),
    "seed_lean": ("seed, lean session (no expiry on commit)", "tab:orange", "^"),
    "floor": ("floor (one INSERT … SELECT of N tickets)", "tab:green", "D"),
}


def plot(results, path):
    """Copy time against related rows, log-log, one line per method; an
    extrapolated point is hollow, on a dotted line."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 5.5), dpi=110)
    for method, (label, colour, marker) in STYLE.items():
        measured = [(n, s[method]) for n, s in results.items()
                    if not s[method].get("extrapolated")]
        guessed = [(n, s[method]) for n, s in results.items() if s[method].get("extrapolated")]
        sizes = [n for n, _ in measured]
        medians = [s["median"] for _, s in measured]
        errors = [[s["median"] - s["min"] for _, s in measured],
                  [s["max"] - s["median"] for _, s in measured]]
        axes.errorbar(sizes, medians, yerr=errors, color=colour, marker=marker, label=label,
                      linewidth=1.2 if method == "seed_lean" else 2, capsize=3,
                      linestyle="--" if method == "seed_lean" else "-")
        if guessed:
            tail = measured[-1:] + guessed
            axes.plot([n for n, _ in tail], [s["median"] for _, s in tail], color=colour,
                      linestyle=":", linewidth=1.5)
            axes.errorbar([n for n, _ in guessed], [s["median"] for _, s in guessed],
                          color=colour, linestyle="none", marker=marker, markerfacecolor="white",
                          markersize=8, label=f"{label.split(' (')[0]}: extrapolated"
                                              " (log-log line through the two largest sizes)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("related rows copied (N)")
    axes.set_ylabel("copy time, ms (median; bars: min–max)")
    axes.set_title("Event copy: time against related rows (log-log)")
    axes.grid(True, which="both", linewidth=0.4, alpha=0.5)
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(exist_ok=True)
    figure.savefig(path)
    pyplot.close(figure)


def distribution():
    shares = sorted(SHARES.items(), key=lambda item: -item[1][0])
    return ", ".join(f"{share:.0%} {table.replace('_', ' ')}" for table, (share, _, _) in shares)


def duration(ms):
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    if ms < 7_200_000:
        return f"{ms / 60_000:.0f} min"
    return f"{ms / 3_600_000:.1f} h"


def extrapolation_note(results, seed_max):
    guessed = [(n, s["seed"]) for n, s in results.items() if s["seed"].get("extrapolated")]
    if not guessed:
        return ""
    first = guessed[0][1]
    (n1, n2), (b, c) = first["fitted_on"], first["fit"]
    note = (f"\n\nExtrapolation. The seed (expiring session) is not run above {seed_max:,}"
            f" rows: it took {duration(results[n2]['seed']['median'])} a run at {n2:,}. Its"
            f" time at " + ", ".join(f"{n:,}" for n, _ in guessed) + " rows is extrapolated"
            f" on the straight log-log line through its medians at {n1:,} and {n2:,} rows"
            f" (t ∝ N^{first['slope']:.2f}): "
            + ", ".join(f"≈{duration(s['median'])} at {n:,}" for n, s in guessed)
            + ". Its cost per row still grows with N (each commit expires every object left"
            " in the session), so this is rather a lower estimate; a fit of"
            " t(N) = b·N + c·N² over " + ", ".join(f"{n:,}" for n in first["fit_points"])
            + f" (least squares on the relative error: b = {b:.3f} ms, c = {c:.2e} ms) gives "
            + ", ".join(f"≈{duration(s['upper'])}" for _, s in guessed)
            + ". Either is an estimate, not a measurement.")
    checks = lean_check(results, seed_max)
    if checks:
        note += (" Check of the method on seed lean, measured at every size: its line through"
                 " its two largest sizes up to " f"{seed_max:,} predicts " + ", ".join(
                     f"{duration(predicted)} at {n:,}, measured {duration(measured)}"
                     for n, predicted, measured in checks) + ".")
    return note


def docs_section(results, command, engine, seed_max, host):
    header, rows = table_rows(results)
    fewer = [(size, method) for size, stats in results.items() for method in ("seed", "seed_lean")
             if 0 < stats[method]["runs"] < stats["ours"]["runs"]]
    note = (f" Where a seed run took over {SEED_SLOW_S} s, that form ran only {MIN_RUNS} times: "
            + ", ".join(f"{method.replace('_', ' ')} at {size:,}" for size, method in fewer)
            + "." if fewer else "")
    return f"""## Event copy

{date.today().isoformat()}, {host}. {postgres_settings(engine)} on the same machine;
psycopg2 without eventlet.

```
{command}
```

Times in milliseconds: median (min–max) over the runs counted in the last column
(0 runs: extrapolated, see below).

{markdown_table(header, rows)}

![Copy time against related rows, log-log](copy-scaling.png)

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
way precedes the first size.{note}{extrapolation_note(results, seed_max)}
"""


# --- main ---------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        type=lambda value: sorted(int(size) for size in value.split(",")))
    parser.add_argument("--seed-max", type=int, default=SEED_MAX,
                        help="largest size at which the seed (expiring session) runs;"
                             " above it its time is extrapolated")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    if sum(size <= args.seed_max for size in args.sizes) < 2 and max(args.sizes) > args.seed_max:
        parser.error("extrapolating the seed needs it measured at two sizes at least")
    return args


def main():
    args = parse_args()
    if set(SHARES) != {model.__tablename__ for model in ALWAYS}:
        raise SystemExit("copy.ALWAYS changed: update SHARES to the kinds it copies")
    host = machine()
    engine = prepare_database(args.database_url)
    results = {}
    for number, size in enumerate(args.sizes):
        methods = [method for method in METHODS if method != "seed" or size <= args.seed_max]
        times = measure_size(engine, size, args.runs, number == 0, methods)
        results[size] = {method: summary(values) for method, values in times.items()}
        if "seed" not in methods:
            results[size]["seed"] = extrapolated(results, "seed", size)
            print(f"size {size}: seed not run, extrapolated:"
                  f" ≈{results[size]['seed']['median'] / 1000:.0f} s", flush=True)
        results[size] = {method: results[size][method] for method in METHODS}
        print(f"size {size}: done", flush=True)
    command = "PYTHONPATH=. .venv/bin/python -m bench.copy_bench"
    if args.runs != 5 or args.sizes != SIZES or args.seed_max != SEED_MAX:
        command += (f" --runs {args.runs} --sizes {','.join(map(str, args.sizes))}"
                    f" --seed-max {args.seed_max}")
    plot(results, PLOT)
    write_section(DOCS, "Event copy", docs_section(results, command, engine, args.seed_max, host))
    print(f"written: {DOCS}, {PLOT}")
    print(plain_table(*table_rows(results)))
    for size, predicted, measured in lean_check(results, args.seed_max):
        print(f"extrapolation check: seed lean at {size}: extrapolated from the smaller sizes"
              f" predicts {predicted:.0f} ms, measured {measured:.0f} ms")
    for size in results:
        print(result_line(results, size))


if __name__ == "__main__":
    main()
