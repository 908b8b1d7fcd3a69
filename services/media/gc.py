"""Garbage collection of blobs no record needs any more.

    python -m services.media.gc [--grace SECONDS]

After the grace period (`GC_GRACE_SECONDS` unless `--grace` says):

1. retired records are purged (their URLs stopped serving when they were
   retired; the grace period keeps their blobs for work under way, such as
   a copy that read them just before);
2. each blob that no record references loses its row and its bytes;
3. stray bytes with no blob row (written by an upload that then rolled
   back) and writes a crash left unfinished are removed.

Steps 2 and 3 take each blob's lock (`media.lock_blob`), which a new record
holds while it writes the blob's row and bytes, and check again under it;
the blob row's foreign keys stop a delete of a blob a record points at.
They go `BATCH` blobs a transaction, whose bytes are deleted in one call
(one `DeleteObjects` on S3), and the store is listed page by page: the
same on either backend (`storage.store_from`).

Each run leaves a row, however it ends, which the media service counts in
its metrics (`gc_runs`).
"""
import argparse
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, exists, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from services.media import gc_runs
from services.media.media import try_lock_blob
from services.media.models import Blob, Media
from services.media.settings import MediaSettings
from services.media.storage import store_from
from shared.config import load_config
from shared.db import make_engine
from shared.settings import validated

CONFIG = Path(__file__).with_name("config.yml")
BATCH = 1000  # blobs a transaction (as many locks) and a delete: DeleteObjects takes 1000


@dataclass(frozen=True)
class Collected:
    records: int
    blobs: int
    stray_files: int
    freed_bytes: int = 0  # the blobs' (stray files have no row that knows their size)


NOTHING = Collected(0, 0, 0)


def run(engine, store, grace_seconds):
    """`collect`, and the run's row (`gc_runs`), which a failed run leaves
    too (with nothing counted removed)."""
    started_at = datetime.now(UTC)
    try:
        collected = collect(engine, store, grace_seconds)
    except Exception:
        gc_runs.record(engine, started_at, "error", NOTHING)
        raise
    gc_runs.record(engine, started_at, "success", collected)
    return collected


def collect(engine, store, grace_seconds):
    """Run the three steps; what each removed."""
    Session = sessionmaker(bind=engine)
    before_grace = text("now() - make_interval(secs => :grace)").bindparams(grace=grace_seconds)
    with Session.begin() as session:
        records = session.execute(delete(Media).where(Media.deleted_at < before_grace)).rowcount
    with Session() as session:
        unreferenced = session.scalars(select(Blob.key).where(
            ~exists().where(Media.blob_key == Blob.key), Blob.created_at < before_grace
        )).all()
        known = set(session.scalars(select(Blob.key)))
    blobs, freed_bytes = _remove(Session, store, unreferenced, before_grace)
    cutoff = time.time() - grace_seconds
    stray = [key for key in store.keys() if key not in known and store.modified_at(key) < cutoff]
    stray_files, _ = _remove(Session, store, stray, before_grace)
    return Collected(records, blobs, stray_files + store.sweep_incomplete(cutoff), freed_bytes)


def _remove(Session, store, keys, before_grace):
    """Remove, `BATCH` at a time, the row (if any) and bytes of each blob
    of `keys` that, under its lock, no record references and whose row is
    older than the grace period; how many it removed, and the bytes their
    rows counted."""
    removed = freed = 0
    for start in range(0, len(keys), BATCH):
        try:
            with Session.begin() as session:
                unused = [key for key in keys[start:start + BATCH]
                          if _unused(session, key, before_grace)]
                sizes = session.scalars(
                    delete(Blob).where(Blob.key.in_(unused)).returning(Blob.size)).all()
                store.delete(*unused)  # under the locks: no record takes them meanwhile
            removed += len(unused)
            freed += sum(sizes)
        except IntegrityError:  # a copy's record took one meanwhile: kept, for the next run
            continue
    return removed, freed


def _unused(session, key, before_grace):
    """Lock the blob (until the transaction ends); whether no record
    references it and its row, if any, is older than the grace period."""
    if not try_lock_blob(session, key):
        return False  # a record is being written with it
    in_use = exists().where(Media.blob_key == key)
    young = exists().where(Blob.key == key, Blob.created_at >= before_grace)
    return not session.scalar(select(in_use | young))


def main(argv=None):
    settings = validated(MediaSettings, load_config(CONFIG))
    parser = argparse.ArgumentParser(prog="python -m services.media.gc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grace", type=float, default=settings.GC_GRACE_SECONDS)
    args = parser.parse_args(argv)
    engine = make_engine(settings.DATABASE_URL, pool_size=1)
    try:
        collected = run(engine, store_from(settings), args.grace)
    finally:
        engine.dispose()
    print(f"removed {collected.records} retired record(s), {collected.blobs} blob(s) "
          f"({collected.freed_bytes} bytes), {collected.stray_files} stray file(s)")


if __name__ == "__main__":
    main()
