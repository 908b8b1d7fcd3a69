"""Media upload and duplication benchmark, on both blob stores: our
record-only copy against copying the bytes.

    PYTHONPATH=. .venv/bin/python -m bench.media_bench [--runs 7] [--stores local s3]
        [--database-url postgresql+psycopg2://root@127.0.0.1:5432/media_bench]

Own database; blobs on each store in turn: the local disk (`LocalBlobStore`
under `var/bench-media`, the project's filesystem, removed at the end) and S3
(`S3BlobStore` on moto's S3 API server, `moto_server`, started on a free
port of this machine and stopped at the end). For 100 MiB, then 500 MiB, it
uploads 200 files of random bytes through the store (timed: the upload) and
gives a source event 200 live records on them: its own 5 slots and the logos
of 195 sponsors (one live record per owner and slot). Then, taking turns, one
warm-up and `--runs` timed runs of:

- ours:  the `event.copied` handler's work in one transaction, commit included:
         `first_delivery` + `copies.copy_media` (INSERT … SELECT of the records,
         its outbox messages: `media.copied`, …), a new target event each run;
- naive: on the disk, each file's bytes into a new file of a fresh directory,
         as durable as our blob writes (temporary file, fsync, rename, fsync
         directory); on S3, a server-side `CopyObject` of each object.

Bytes written: for ours the WAL over the transaction
(`pg_current_wal_insert_lsn()` before and after) plus the growth of the store
(checked to be 0 blobs, 0 bytes); for naive its copies' bytes. Each
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
from services.media.s3 import S3BlobStore
from services.media.storage import LocalBlobStore, fsync_directory
from shared.inbox import first_delivery
from shared.migrate import migrate
from tests.support.s3 import BUCKET, MotoServer

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
STORES = ("local", "s3")

INSERT_RECORD = text(
    "INSERT INTO media (event_id, owner_kind, owner_id, slot, blob_key, content_type, size,"
    " width, height, public_key) VALUES (:event, :kind, :owner, :slot, :key, 'image/png',"
    " :size, 1300, 500, md5(random()::text) || md5(random()::text))")


# --- setup -----------------------------------------------------------------

class Disk:
    """The local store, and the naive copy of its files."""

    name = "local disk"

    def __init__(self):
        shutil.rmtree(WORK, ignore_errors=True)
        self.store = LocalBlobStore(WORK / "blobs")

    def usage(self):
        return usage(self.store.root)

    def naive(self, run):
        return time_naive(blob_files(self.store.root), run)


class S3:
    """The S3 store on moto's server, emptied; the naive copy: CopyObject."""

    name = "S3 (moto)"

    def __init__(self, server):
        server.reset()
        self.client = server.client()
        self.store = S3BlobStore(self.client, BUCKET)

    def objects(self, prefix=""):
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                       Prefix=prefix)
        return [item for page in pages for item in page.get("Contents", [])]

    def usage(self):
        objects = self.objects()
        return len(objects), sum(item["Size"] for item in objects)

    def naive(self, run):
        sources, target = self.objects(), f"naive-{run}/"
        start = time.perf_counter()
        for source in sources:
            self.client.copy_object(Bucket=BUCKET, Key=target + source["Key"],
                                    CopySource={"Bucket": BUCKET, "Key": source["Key"]})
        elapsed = ms_since(start)
        copies = self.objects(target)
        written = sum(item["Size"] for item in copies)
        if len(copies) != FILES or written != sum(item["Size"] for item in sources):
            raise AssertionError(f"naive copied {len(copies)} objects, {written} bytes")
        self.client.delete_objects(Bucket=BUCKET, Delete={
            "Objects": [{"Key": item["Key"]} for item in copies]})
        return elapsed, written


def build_set(engine, store, file_bytes):
    """200 blobs of random bytes and the source event's 200 records on
    them; the ms each upload took."""
    owners = [("event", SOURCE, slot) for slot in SLOTS]
    owners += [("sponsor", sponsor, "logo") for sponsor in SPONSORS]
    uploads = []
    with engine.begin() as conn:
        for kind, owner, slot in owners:
            data = os.urandom(file_bytes)
            start = time.perf_counter()
            key = store.put(data)
            uploads.append(ms_since(start))
            conn.execute(text("INSERT INTO blobs (key, size) VALUES (:key, :size)"),
                         {"key": key, "size": file_bytes})
            conn.execute(INSERT_RECORD, {"event": SOURCE, "kind": kind, "owner": owner,
                                         "slot": slot, "key": key, "size": file_bytes})
    vacuum_analyze(engine)
    return uploads


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


def time_ours(engine, backend, copy_id):
    message = EventCopied(source_event_id=SOURCE, source_identifier="source", event_id=copy_id,
                          identifier=f"copy{copy_id}", actor_id=1,
                          sponsor_ids={old: copy_id * 10_000 + old for old in SPONSORS})
    blobs_before, start_lsn = backend.usage(), wal_lsn(engine)
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
    blobs_after = backend.usage()
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

def measure_scale(engine, backend, scale, runs):
    """The uploads' times (ms), and per method the times (ms) and bytes
    written of each run, for one store and set size."""
    empty_database(engine)
    uploads = build_set(engine, backend.store, FILE_BYTES * scale)
    copy_ids = iter(range(SOURCE + 1, SOURCE + 2 + runs))
    methods = {"ours": lambda run: time_ours(engine, backend, next(copy_ids)),
               "naive": backend.naive}
    results = {method: {"ms": [], "bytes": []} for method in methods}
    for run in range(-1, runs):  # run -1: the warm-up
        for method, measure in methods.items():
            os.sync()
            elapsed, written = measure(run)
            if run >= 0:
                results[method]["ms"].append(elapsed)
                results[method]["bytes"].append(written)
    return {"store": backend.name, "mib": FILES * FILE_BYTES * scale / MIB,
            "uploads": uploads, **results}


# --- reporting -------------------------------------------------------------

def span(values, digits=2):
    return (f"{statistics.median(values):.{digits}f}"
            f" ({min(values):.{digits}f}–{max(values):.{digits}f})")


def table_rows(results):
    header = ["store", "set MiB", "file KiB", "upload ms a file", "upload MiB/s", "ours ms",
              "naive ms", "speedup naive/ours", "ours bytes written", "naive bytes written",
              "ours/naive bytes", "runs"]
    rows = []
    for result in results:
        ours, naive = result["ours"], result["naive"]
        ours_bytes, naive_bytes = (statistics.median(r["bytes"]) for r in (ours, naive))
        rows.append([result["store"], f"{result['mib']:.0f}",
                     f"{result['mib'] * 1024 / FILES:.0f}", span(result["uploads"]),
                     f"{result['mib'] / (sum(result['uploads']) / 1000):.0f}",
                     span(ours["ms"]), span(naive["ms"]),
                     f"{statistics.median(naive['ms']) / statistics.median(ours['ms']):.1f}",
                     span(ours["bytes"], 0), span(naive["bytes"], 0),
                     f"{ours_bytes / naive_bytes:.3%}", str(len(ours["ms"]))])
    return header, rows


def result_line(results):
    """One RESULT line: per store (in the order measured), at the smaller set."""
    parts = [f"media_files={FILES} media_mb={results[0]['mib']:.1f}"]
    for store in dict.fromkeys(result["store"] for result in results):
        small, large = [result for result in results if result["store"] == store]
        prefix = "s3_" if store.startswith("S3") else ""
        ours, naive = (statistics.median(small[m]["ms"]) for m in ("ours", "naive"))
        ours_bytes, naive_bytes = (int(statistics.median(small[m]["bytes"]))
                                   for m in ("ours", "naive"))
        growth = statistics.median(large["ours"]["ms"]) / ours
        parts.append(
            f"{prefix}upload_ms={statistics.median(small['uploads']):.2f}"
            f" {prefix}ours_ms={ours:.2f} {prefix}naive_ms={naive:.2f}"
            f" {prefix}speedup={naive / ours:.2f} {prefix}ours_bytes_written={ours_bytes}"
            f" {prefix}naive_bytes_written={naive_bytes} {prefix}ours_growth_5x={growth:.2f}")
    return "RESULT " + " ".join(parts)


def docs_section(results, command, engine, load):
    header, rows = table_rows(results)
    return f"""## Media upload and duplication

{date.today().isoformat()}, {os.cpu_count()} cores, {postgres_settings(engine)}
on the same machine and filesystem as the local blobs (`{WORK}`); the S3 store is moto's
S3 API server (`moto_server`, one Python process, objects in memory) on the same machine,
reached over HTTP on 127.0.0.1; Python {platform.python_version()}, psycopg2 and boto3
without eventlet; load average {load:.2f} at the start.

```
{command}
```

Times in milliseconds, bytes written per copy: median (min–max) over the runs (uploads:
over the {FILES} files).

{markdown_table(header, rows)}

Method. {FILES} files of random bytes ({FILE_BYTES // 1024} KiB each, then {SCALES[-1]}× that)
are uploaded through each store (`LocalBlobStore`: temporary file, fsync, rename, fsync of
the directory; `S3BlobStore`: one conditional `PutObject` each), each upload timed, and a
source event gets {FILES} live media records on them: its own {len(SLOTS)} slots and the
logos of {len(SPONSORS)} of its sponsors.
**ours** is what the `event.copied` handler does, in one transaction timed with its commit:
`first_delivery` plus `copies.copy_media` (one `INSERT … SELECT` of the records, new public
keys, sharing the blobs, and the outbox messages it adds: `media.copied`, `media.changed`),
for a new target event each run. **naive** on the disk copies each file's bytes into a new
file in a fresh directory, as durably as our blob writes (temporary file, fsync, rename,
fsync of the directory; the sources are in the page cache, so it is disk-write bound); on
S3 it is a server-side `CopyObject` of each object, the cheapest copy S3 offers (no bytes
through the client).
Bytes written: for ours the WAL generated over the transaction
(`pg_current_wal_insert_lsn()` before and after; cluster-wide, so concurrent WAL counts too)
plus the growth of the store, which is checked to be zero blobs and bytes; for naive the
bytes of its copies. Every copy is checked (records, `media.copied`) and removed, the
tables vacuumed and `sync` called before each run; one unmeasured warm-up run of each way
precedes each size.
Ours does not depend on the files' size nor on the store; naive grows with the size, and
with fsync latency or the store's copy rate. moto is not S3: its figures show the client's
path and the request count, not a real store's latency or bandwidth.
"""


def write_docs(section):
    """Put the section into docs/benchmarks.md, replacing an earlier one."""
    old = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Media (?:upload and )?duplication\n.*?(?=^## |\Z)", re.S | re.M)
    new = (pattern.sub(lambda _: section, old) if pattern.search(old)
           else old.rstrip("\n") + "\n\n" + section)
    DOCS.write_text(new.rstrip("\n") + "\n")


# --- main ------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs: at least 5")
    migrate(Path("services/media"), args.database_url)
    engine = create_engine(args.database_url)
    made_var, load = not WORK.parent.exists(), os.getloadavg()[0]
    try:
        results = []
        with MotoServer() as server:
            for store in args.stores:
                for scale in SCALES:
                    backend = Disk() if store == "local" else S3(server)
                    results.append(measure_scale(engine, backend, scale, args.runs))
                    print(f"{backend.name}, {results[-1]['mib']:.0f} MiB: done", flush=True)
        command = "PYTHONPATH=. .venv/bin/python -m bench.media_bench"
        if args.runs != 7:
            command += f" --runs {args.runs}"
        if args.stores != list(STORES):
            command += f" --stores {' '.join(args.stores)}"
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
