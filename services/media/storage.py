"""Blob storage, content-addressed: a blob's key is the SHA-256 (hex) of its
bytes, so equal bytes are stored once and a stored blob never changes.

`BlobStore` is the interface the service uses; `LocalBlobStore` keeps blobs
as files under a root directory (the default backend). Another backend
implements the same six methods; an S3-compatible one would `put` with
`PutObject` (If-None-Match: * makes it write-once), `open` with `GetObject`,
`delete` with `DeleteObject`, `keys` with `ListObjectsV2`, and leave
`sweep_incomplete` to a lifecycle rule that aborts stale multipart uploads. Media records
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

from services.media.settings import MediaSettings
from shared.settings import settings_of

BLOB_KEY = re.compile(r"[0-9a-f]{64}")
INCOMPLETE_PREFIX = ".incoming-"


def blob_key(data):
    return hashlib.sha256(data).hexdigest()


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store `data` (if it is not stored yet) durably; its key."""

    def open(self, key: str) -> bytes:
        """The blob's bytes; FileNotFoundError if there is none."""

    def delete(self, key: str) -> None:
        """Remove the blob; no error if it is gone already."""

    def keys(self) -> Iterator[str]:
        """Every stored blob's key."""

    def modified_at(self, key: str) -> float:
        """When the blob was last written (seconds since the epoch)."""

    def sweep_incomplete(self, before: float) -> int:
        """Remove writes a crash left unfinished, begun before `before`;
        how many."""


class LocalBlobStore:
    """Blobs as files `root/ab/cd/abcd…`, written atomically: a temporary
    file in the same directory, fsynced, renamed into place, the directory
    fsynced. A reader sees the whole blob or none."""

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

    def delete(self, key):
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


class Storage(DependencyProvider):
    """The service's `BlobStore`: a `LocalBlobStore` under `MEDIA_ROOT`."""

    def setup(self):
        self.store = LocalBlobStore(settings_of(self.container, MediaSettings).MEDIA_ROOT)

    def get_dependency(self, worker_ctx):
        return self.store
