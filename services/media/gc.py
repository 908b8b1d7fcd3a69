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
"""
import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, exists, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from services.media.media import try_lock_blob
from services.media.models import Blob, Media
from services.media.settings import MediaSettings
from services.media.storage import LocalBlobStore
from shared.config import load_config
from shared.db import make_engine
from shared.settings import validated

CONFIG = Path(__file__).with_name("config.yml")


@dataclass(frozen=True)
class Collected:
    records: int
    blobs: int
    stray_files: int


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
    blobs = sum(_remove(Session, store, key, before_grace) for key in unreferenced)
    cutoff = time.time() - grace_seconds
    stray = [key for key in store.keys() if key not in known and store.modified_at(key) < cutoff]
    stray_files = sum(_remove(Session, store, key, before_grace) for key in stray)
    return Collected(records, blobs, stray_files + store.sweep_incomplete(cutoff))


def _remove(Session, store, key, before_grace):
    """Remove the blob's row (if any) and bytes if, under its lock, no
    record references it and its row is older than the grace period;
    whether it did."""
    try:
        with Session.begin() as session:
            if not try_lock_blob(session, key):
                return False  # a record is being written with it
            in_use = exists().where(Media.blob_key == key)
            young = exists().where(Blob.key == key, Blob.created_at >= before_grace)
            if session.scalar(select(in_use | young)):
                return False
            session.execute(delete(Blob).where(Blob.key == key))
            store.delete(key)
            return True
    except IntegrityError:  # a copy's record took it meanwhile: kept
        return False


def main(argv=None):
    settings = validated(MediaSettings, load_config(CONFIG))
    parser = argparse.ArgumentParser(prog="python -m services.media.gc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grace", type=float, default=settings.GC_GRACE_SECONDS)
    args = parser.parse_args(argv)
    engine = make_engine(settings.DATABASE_URL, pool_size=1)
    try:
        collected = collect(engine, LocalBlobStore(settings.MEDIA_ROOT), args.grace)
    finally:
        engine.dispose()
    print(f"removed {collected.records} retired record(s), {collected.blobs} blob(s), "
          f"{collected.stray_files} stray file(s)")


if __name__ == "__main__":
    main()
