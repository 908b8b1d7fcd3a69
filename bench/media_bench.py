"""Media duplication benchmark: our record-only copy against copying the bytes.

    PYTHONPATH=. .venv/bin/python -m bench.media_bench [--runs 7]
        [--database-url postgresql+psycopg2://root@127.0.0.1:5432/media_bench]

Own database, own blobs under `var/bench-media` (the project's filesystem,
removed at the end). For 100 MiB, then 500 MiB, it stores 200 files of random
bytes through `LocalBlobStore` and gives a source event 200 live records on
them: its own 5 slots and the logos of 195 sponsors (one live record per owner
and slot). Then, taking turns, one warm-up and `--runs` timed runs of:

- ours:  the `event.copied` handler's work in one transaction, commit included:
         `first_delivery` + `copies.copy_media` (INSERT … SELECT of the records,
         its outbox messages: `media.copied`, …), a new target event each run;
- naive: each file's bytes into a new file of a fresh directory, as durable
         as our blob writes (temporary file, fsync, rename, fsync directory).

Bytes written: for ours the WAL over the transaction
(`pg_current_wal_insert_lsn()` before and after) plus the growth of the blob
directory (checked to be 0 files, 0 bytes); for naive its files' bytes. Each
copy is checked and removed, the tables vacuumed and `sync` called before the
next run. Medians go to stdout and `docs/benchmarks.md`; the last line printed
is the `RESULT` line.
"""
import argparse
import os
import platform
import re
import shutil
import statistics
import time
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.common import (
    empty_database,
    markdown_table,
    ms_since,
    plain_table,
    postgres_settings,
    vacuum_analyze,
)
from contracts.events.messages import EventCopied
from services.media.copies import copy_media
from services.media.models import SLOTS, Base
from services.media.storage import LocalBlobStore, fsync_directory
from shared.inbox import first_delivery
from shared.migrate import migrate

DEFAULT_URL = "postgresql+psycopg2://root@127.0.0.1:5432/media_bench"
DOCS = Path("docs/benchmarks.md")
WORK = Path("var/bench-media")
BASE_URL = "http://localhost:8000"
CONSUMER = "media.event.copied"  # the inbox consumer apply_once uses for this handler
FILES = 200
FILE_BYTES = 512 * 1024
SCALES = (1, 5)  # file size multipliers: 100 MiB, then 500 MiB
MIB = 2**20
SOURCE = 1  # the source event's id; its sponsors are 1001 …
SPONSORS = [1000 + n for n in range(1, FILES - len(SLOTS) + 1)]

INSERT_RECORD = text(
    "INSERT INTO media (event_id, owner_kind, owner_id, slot, blob_key, content_type, size,"
    " width, height, public_key) VALUES (:event, :kind, :owner, :slot, :key, 'image/png',"
    " :size, 1300, 500, md5(random()::text) || md5(random()::text))")


# --- setup -----------------------------------------------------------------

def build_set(engine, store, file_bytes):
    """200 blobs of random bytes and the source event's 200 records on them."""
    owners = [("event", SOURCE, slot) for slot in SLOTS]
    owners += [("sponsor", sponsor, "logo") for sponsor in SPONSORS]
    with engine.begin() as conn:
        for kind, owner, slot in owners:
            key = store.put(os.urandom(file_bytes))
            conn.execute(text("INSERT INTO blobs (key, size) VALUES (:key, :size)"),
                         {"key": key, "size": file_bytes})
            conn.execute(INSERT_RECORD, {"event": SOURCE, "kind": kind, "owner": owner,
                                         "slot": slot, "key": key, "size": file_bytes})
    vacuum_analyze(engine)


def blob_files(root):
    return sorted(path for path in root.rglob("*") if path.is_file())


def usage(root):
    """(files, bytes) under root."""
    files = blob_files(root)
    return len(files), sum(path.stat().st_size for path in files)


# --- the two ways to duplicate ---------------------------------------------

def wal_lsn(engine):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_current_wal_insert_lsn()"))


def time_ours(engine, store, copy_id):
    message = EventCopied(source_event_id=SOURCE, source_identifier="source", event_id=copy_id,
                          identifier=f"copy{copy_id}", actor_id=1,
                          sponsor_ids={old: copy_id * 10_000 + old for old in SPONSORS})
    blobs_before, start_lsn = usage(store.root), wal_lsn(engine)
    start = time.perf_counter()
    with Session(engine) as session:
        if first_delivery(session, message, CONSUMER):
            copy_media(session, message, BASE_URL)
        session.commit()
    elapsed = ms_since(start)
    with engine.begin() as conn:
        wal = conn.scalar(text("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :start)"),
                          {"start": start_lsn})
        records = conn.scalar(text("SELECT count(*) FROM media WHERE event_id = :event"),
                              {"event": copy_id})
        announced = conn.scalar(text("SELECT count(*) FROM outbox"
                                     " WHERE event_type = 'media.copied'"))
        remove_copy(conn, copy_id)
    blobs_after = usage(store.root)
    if (records, announced, blobs_after) != (FILES, 1, blobs_before):
        raise AssertionError(f"ours: {records} records, {announced} media.copied,"
                             f" blobs {blobs_before} -> {blobs_after}")
    vacuum_analyze(engine)
    return elapsed, int(wal) + blobs_after[1] - blobs_before[1]


def remove_copy(conn, copy_id):
    """The copy's rows in every table keyed by event, the outbox and the inbox."""
    for table in Base.metadata.sorted_tables:
        if "event_id" in table.c:
            conn.execute(table.delete().where(table.c.event_id == copy_id))
    conn.execute(text("DELETE FROM outbox"))
    conn.execute(text("DELETE FROM inbox"))


def time_naive(sources, run):
    target = WORK / f"naive-{run}"
    target.mkdir()
    start = time.perf_counter()
    for number, source in enumerate(sources):
        temporary = target / f".incoming-{number}"
        with open(temporary, "wb") as stream:
            stream.write(source.read_bytes())
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target / source.name)
        fsync_directory(target)
    elapsed = ms_since(start)
    files, written = usage(target)
    if files != FILES or written != sum(source.stat().st_size for source in sources):
        raise AssertionError(f"naive wrote {files} files, {written} bytes")
    shutil.rmtree(target)
    return elapsed, written


# --- measuring -------------------------------------------------------------

def measure_scale(engine, scale, runs):
    """Per method: the times (ms) and bytes written of each run, for one set size."""
    empty_database(engine)
    shutil.rmtree(WORK, ignore_errors=True)
    store = LocalBlobStore(WORK / "blobs")
    build_set(engine, store, FILE_BYTES * scale)
    sources = blob_files(store.root)
    copy_ids = iter(range(SOURCE + 1, SOURCE + 2 + runs))
    methods = {"ours": lambda run: time_ours(engine, store, next(copy_ids)),
               "naive": lambda run: time_naive(sources, run)}
    results = {method: {"ms": [], "bytes": []} for method in methods}
    for run in range(-1, runs):  # run -1: the warm-up
        for method, measure in methods.items():
            os.sync()
            elapsed, written = measure(run)
            if run >= 0:
                results[method]["ms"].append(elapsed)
                results[method]["bytes"].append(written)
    return {"mib": FILES * FILE_BYTES * scale / MIB, **results}


# --- reporting -------------------------------------------------------------

def span(values, digits=2):
    return (f"{statistics.median(values):.{digits}f}"
            f" ({min(values):.{digits}f}–{max(values):.{digits}f})")


def table_rows(results):
    header = ["set MiB", "file KiB", "ours ms", "naive ms", "speedup naive/ours",
              "ours bytes written", "naive bytes written", "ours/naive bytes", "runs"]
    rows = []
    for result in results:
        ours, naive = result["ours"], result["naive"]
        ours_bytes, naive_bytes = (statistics.median(r["bytes"]) for r in (ours, naive))
        rows.append([f"{result['mib']:.0f}", f"{result['mib'] * 1024 / FILES:.0f}",
                     span(ours["ms"]), span(naive["ms"]),
                     f"{statistics.median(naive['ms']) / statistics.median(ours['ms']):.1f}",
                     span(ours["bytes"], 0), span(naive["bytes"], 0),
                     f"{ours_bytes / naive_bytes:.3%}", str(len(ours["ms"]))])
    return header, rows


def result_line(results):
    small, large = results
    ours, naive = (statistics.median(small[m]["ms"]) for m in ("ours", "naive"))
    ours_bytes, naive_bytes = (int(statistics.median(small[m]["bytes"]))
                               for m in ("ours", "naive"))
    growth = statistics.median(large["ours"]["ms"]) / ours
    return (f"RESULT media_files={FILES} media_mb={small['mib']:.1f} ours_ms={ours:.2f}"
            f" naive_ms={naive:.2f} speedup={naive / ours:.2f} ours_bytes_written={ours_bytes}"
            f" naive_bytes_written={naive_bytes} ours_growth_5x={growth:.2f}")


def docs_section(results, command, engine, load):
    header, rows = table_rows(results)
    return f"""## Media duplication

{date.today().isoformat()}, {os.cpu_count()} cores, {postgres_settings(engine)}
on the same machine and filesystem as the blobs (`{WORK}`), Python
{platform.python_version()}, psycopg2 without eventlet; load average {load:.2f} at the start.

```
{command}
```

Times in milliseconds, bytes written per copy: median (min–max) over the runs.

{markdown_table(header, rows)}

Method. {FILES} files of random bytes ({FILE_BYTES // 1024} KiB each, then {SCALES[-1]}× that)
are stored through `LocalBlobStore`, and a source event gets {FILES} live media records on
them: its own {len(SLOTS)} slots and the logos of {len(SPONSORS)} of its sponsors.
**ours** is what the `event.copied` handler does, in one transaction timed with its commit:
`first_delivery` plus `copies.copy_media` (one `INSERT … SELECT` of the records, new public
keys, sharing the blobs, and the outbox messages it adds: `media.copied`, `media.changed`),
for a new target event each run. **naive** copies each file's bytes into a new file in a
fresh directory, as durably as our blob writes (temporary file, fsync, rename, fsync of the
directory); the sources are in the page cache, so it is disk-write bound.
Bytes written: for ours the WAL generated over the transaction
(`pg_current_wal_insert_lsn()` before and after; cluster-wide, so concurrent WAL counts too)
plus the growth of the blob directory, which is checked to be zero files and bytes; for
naive the bytes of its files. Every copy is checked (records, `media.copied`) and removed, the
tables vacuumed and `sync` called before each run; one unmeasured warm-up run of each way
precedes each size.
Ours does not depend on the files' size; naive grows with it and with fsync latency.
"""


def write_docs(section):
    """Put the section into docs/benchmarks.md, replacing an earlier one."""
    old = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Media duplication\n.*?(?=^## |\Z)", re.S | re.M)
    new = (pattern.sub(lambda _: section, old) if pattern.search(old)
           else old.rstrip("\n") + "\n\n" + section)
    DOCS.write_text(new.rstrip("\n") + "\n")


# --- main ------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs: at least 5")
    migrate(Path("services/media"), args.database_url)
    engine = create_engine(args.database_url)
    made_var, load = not WORK.parent.exists(), os.getloadavg()[0]
    try:
        results = []
        for scale in SCALES:
            results.append(measure_scale(engine, scale, args.runs))
            print(f"{results[-1]['mib']:.0f} MiB: done", flush=True)
        command = "PYTHONPATH=. .venv/bin/python -m bench.media_bench"
        if args.runs != 7:
            command += f" --runs {args.runs}"
        write_docs(docs_section(results, command, engine, load))
    finally:
        empty_database(engine)
        engine.dispose()
        shutil.rmtree(WORK, ignore_errors=True)
        if made_var and WORK.parent.exists() and not any(WORK.parent.iterdir()):
            WORK.parent.rmdir()
    print(plain_table(*table_rows(results)))
    print(result_line(results))


if __name__ == "__main__":
    main()
