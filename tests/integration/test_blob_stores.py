"""The `BlobStore` contract, one suite on both backends: `LocalBlobStore`
on a directory, and `S3BlobStore` on moto's S3 API server, listing and
deleting two keys a page so that paging is exercised."""
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.media.s3 import S3BlobStore
from services.media.storage import INCOMPLETE_PREFIX, LocalBlobStore, blob_key
from shared.errors import Outage
from tests.support.s3 import BUCKET, MotoServer
from tests.support.system import free_port


class Local:
    def __init__(self, root):
        self.store = LocalBlobStore(root)

    def begin_a_write(self):
        """What a write cut short by a crash leaves."""
        unfinished = self.store.root / "ab" / "cd" / f"{INCOMPLETE_PREFIX}crashed"
        unfinished.parent.mkdir(parents=True, exist_ok=True)
        unfinished.write_bytes(b"half a blob")

    def add_foreign(self, name):
        (self.store.root / name).write_bytes(b"not a blob")


class S3:
    def __init__(self, server):
        self.client = server.client()
        self.store = S3BlobStore(self.client, BUCKET, page=2)

    def begin_a_write(self):
        self.client.create_multipart_upload(Bucket=BUCKET, Key=blob_key(b"half a blob"))

    def add_foreign(self, name):
        self.client.put_object(Bucket=BUCKET, Key=name, Body=b"not a blob")


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    if request.param == "local":
        return Local(tmp_path / "blobs")
    return S3(request.getfixturevalue("s3"))


@pytest.fixture
def store(backend):
    return backend.store


def test_a_blob_is_stored_under_the_hash_of_its_bytes(store):
    key = store.put(b"an image")

    assert key == blob_key(b"an image")
    assert store.open(key) == b"an image"
    assert list(store.keys()) == [key]


def test_the_same_bytes_put_again_are_one_blob(store):
    assert store.put(b"an image") == store.put(b"an image")
    assert list(store.keys()) == [blob_key(b"an image")]


def test_concurrent_puts_of_the_same_bytes_all_succeed_and_store_one_blob(store):
    data = os.urandom(256 * 1024)
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: store.put(data), range(8)))

    assert keys == [blob_key(data)] * 8
    assert list(store.keys()) == [blob_key(data)]
    assert store.open(blob_key(data)) == data


def test_a_missing_blob_is_not_found(store):
    with pytest.raises(FileNotFoundError):
        store.open(blob_key(b"never stored"))


@pytest.mark.parametrize("key", ["../../etc/passwd", "ABC", "", blob_key(b"x").upper()])
def test_what_is_not_a_blob_key_is_refused(store, key):
    for use in (store.open, store.delete, store.modified_at):
        with pytest.raises(ValueError):
            use(key)


def test_listing_and_deleting_go_through_every_page(store):
    keys = {store.put(f"image {number}".encode()) for number in range(5)}

    assert set(store.keys()) == keys
    store.delete(*keys, blob_key(b"gone already"))
    assert list(store.keys()) == []


def test_what_is_not_a_blob_is_not_listed(store, backend):
    key = store.put(b"an image")
    backend.add_foreign("README")

    assert list(store.keys()) == [key]


def test_a_blob_tells_when_it_was_written(store):
    before = time.time()
    key = store.put(b"an image")

    assert before - 2 <= store.modified_at(key) <= time.time() + 2


def test_unfinished_writes_begun_before_the_cutoff_are_swept_and_blobs_kept(store, backend):
    key = store.put(b"an image")
    backend.begin_a_write()  # (moto dates every multipart upload 2010: no younger one here)

    assert store.sweep_incomplete(time.time() + 60) == 1
    assert store.sweep_incomplete(time.time() + 60) == 0
    assert list(store.keys()) == [key] and store.open(key) == b"an image"


# the S3 backend alone


def test_an_s3_write_never_replaces_an_object_that_is_there(s3):
    data, client = b"an image", s3.client()
    client.put_object(Bucket=BUCKET, Key=blob_key(data), Body=b"written first")

    assert S3BlobStore(client, BUCKET).put(data) == blob_key(data)  # If-None-Match: *
    assert S3BlobStore(client, BUCKET).open(blob_key(data)) == b"written first"


def test_an_unreachable_s3_store_is_an_outage():
    nowhere = MotoServer()
    nowhere.url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = S3BlobStore(nowhere.client(), BUCKET)

    for use in (lambda: store.put(b"an image"), lambda: store.open(blob_key(b"an image")),
                lambda: list(store.keys()), lambda: store.delete(blob_key(b"an image"))):
        with pytest.raises(Outage):
            use()


def test_a_missing_bucket_is_an_error_not_a_missing_blob(s3):
    store = S3BlobStore(s3.client(), "no-such-bucket")

    with pytest.raises(Exception) as raised:
        store.open(blob_key(b"an image"))
    assert not isinstance(raised.value, FileNotFoundError)
