"""Blob storage, content-addressed: a blob's key is the SHA-256 (hex) of its
bytes, so equal bytes are stored once and a stored blob never changes.

`BlobStore` is the interface the service uses, on two backends, chosen by
`MEDIA_BACKEND` (`store_from`): `LocalBlobStore` keeps blobs as files under
a root directory (the default); `s3.S3BlobStore` keeps them on any
S3-compatible store, written once (`If-None-Match: *`). Media records
share blobs by key, so duplicating media never copies bytes on any backend;
a backend that needed one object per record would use its server-side copy
(`CopyObject`) there, never a download and upload.
"""
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from nameko.extensions import DependencyProvider
from sqlalchemy import func, select

from services.media import gc_runs
from services.media.models import Blob
from services.media.settings import MediaSettings
from shared.db import make_engine
from shared.metrics import metrics_of
from shared.settings import settings_of

BLOB_KEY = re.compile(r"[0-9a-f]{64}")
INCOMPLETE_PREFIX = ".incoming-"


def blob_key(data):
    return hashlib.sha256(data).hexdigest()


class BlobStore(Protocol):
    blocking: bool  # `put` blocks the process (disk I/O): the service runs it in a thread

    def put(self, data: bytes) -> str:
        """Store `data` (if it is not stored yet) durably; its key. Safe
        when several processes put the same bytes at once."""

    def open(self, key: str) -> bytes:
        """The blob's bytes; FileNotFoundError if there is none."""

    def delete(self, *keys: str) -> None:
        """Remove the blobs; no error for one that is gone already."""

    def keys(self) -> Iterator[str]:
        """Every stored blob's key (listed page by page)."""

    def modified_at(self, key: str) -> float:
        """When the blob was last written (seconds since the epoch)."""

    def sweep_incomplete(self, before: float) -> int:
        """Remove writes a crash left unfinished, begun before `before`;
        how many."""


class LocalBlobStore:
    """Blobs as files `root/ab/cd/abcd…`, written atomically: a temporary
    file in the same directory, fsynced, renamed into place, the directory
    fsynced. A reader sees the whole blob or none."""

    blocking = True

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, data):
        key = blob_key(data)
        path = self._path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=INCOMPLETE_PREFIX)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        fsync_directory(path.parent)
        return key

    def open(self, key):
        return self._path(key).read_bytes()

    def delete(self, *keys):
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def keys(self):
        for path in self.root.glob("??/??/*"):
            if BLOB_KEY.fullmatch(path.name):
                yield path.name

    def modified_at(self, key):
        return self._path(key).stat().st_mtime

    def sweep_incomplete(self, before):
        stale = [path for path in self.root.glob(f"??/??/{INCOMPLETE_PREFIX}*")
                 if path.stat().st_mtime < before]
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)

    def _path(self, key):
        if not BLOB_KEY.fullmatch(key):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key[:2] / key[2:4] / key


def fsync_directory(directory):
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def store_from(settings):
    """The `BlobStore` that `settings` (MediaSettings) choose."""
    if settings.MEDIA_BACKEND == "s3":
        from services.media.s3 import S3BlobStore, s3_client  # boto3 only when used
        return S3BlobStore(s3_client(settings), settings.MEDIA_S3_BUCKET)
    return LocalBlobStore(settings.MEDIA_ROOT)


class Storage(DependencyProvider):
    """The service's `BlobStore` (`store_from` its settings); its blobs and
    their bytes, and the garbage collector's runs (`gc_runs`), are metrics
    (read from the database when scraped)."""

    def setup(self):
        settings = settings_of(self.container, MediaSettings)
        self.store = store_from(settings)
        self.engine = make_engine(settings.DATABASE_URL, pool_size=1)
        metrics = metrics_of(self.container)
        metrics.probe("media_blobs", "blobs stored", lambda: self._totals()[0])
        metrics.probe("media_stored_bytes", "bytes of the blobs stored", lambda: self._totals()[1])
        gc_runs.expose(metrics, self.engine)

    def stop(self):
        self.engine.dispose()

    def _totals(self):
        with self.engine.connect() as conn:
            return conn.execute(select(func.count(), func.coalesce(func.sum(Blob.size), 0))).one()

    def get_dependency(self, worker_ctx):
        return self.store
