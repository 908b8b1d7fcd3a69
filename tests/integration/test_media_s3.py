"""The media service on its S3 backend (`MEDIA_BACKEND=s3`, moto's S3 API
server), end to end beside the real events service on the real PostgreSQL
and RabbitMQ: uploads land in the bucket and are served from it, a copy
shares the objects and writes none, and the GC frees a deleted event's
objects but those the copy shares, and stray ones."""
import pytest
from nameko.constants import AMQP_URI_CONFIG_KEY
from sqlalchemy import insert

from contracts.media.errors import MediaNotFound
from services.media import gc
from services.media.models import Blob
from services.media.s3 import S3BlobStore
from services.media.settings import MediaSettings
from services.media.storage import store_from
from tests.support.broker import CallerProxy
from tests.support.media import (
    ACTOR,
    EVENT,
    b64,
    count,
    event_urls,
    files_under,
    image,
    key_of,
    served_bytes,
    stored,
)
from tests.support.s3 import BUCKET
from tests.support.services import proof_of
from tests.support.tap import wait_until

DEADLINE = 10.0  # seconds for a message to be handled


@pytest.fixture
def media_config(media_config, s3):
    """The media service's settings, with its blobs on the S3 API server."""
    return {**media_config, **s3.settings()}


@pytest.fixture
def store(media_config):
    """The store the media service under test writes to, as `make media-gc` opens it."""
    return store_from(MediaSettings.model_validate(media_config))


@pytest.fixture
def event(events):
    return events.acting(ACTOR).create_event(EVENT)


def urls_of(events, event_id):
    return {field: url for field, url in event_urls(events, event_id).items() if url}


def served(media, url):
    try:
        return served_bytes(media, url)
    except MediaNotFound:
        return None


def test_an_upload_is_written_to_the_bucket_and_served_from_it(
        media, events, event, store, media_db, media_root):
    answer = media.acting(ACTOR).upload_event_image(event["id"], "original", b64(image("red")))

    assert sorted(store.keys()) == stored(media_db, media_root)["blobs"]
    assert len(list(store.keys())) == 4  # the original and its three renditions
    for record in answer["media"]:
        blob = record["etag"].strip('"')
        assert served_bytes(media, record["url"]) == store.open(blob)
    assert files_under(media_root) == []  # nothing on the local disk


def test_the_same_image_uploaded_to_two_events_at_once_is_one_object(
        media, events, store, amqp_uri):
    owners = [events.acting(ACTOR).create_event(EVENT) for _ in range(2)]
    logo = b64(image("navy", (400, 400)))

    with CallerProxy("media", {AMQP_URI_CONFIG_KEY: amqp_uri},  # concurrent calls
                     context_data=proof_of(ACTOR)) as rpc:
        replies = [rpc.upload_event_image.call_async(owner["id"], "logo", logo)
                   for owner in owners]
        answers = [reply.result() for reply in replies]

    [[first], [second]] = [answer["media"] for answer in answers]
    assert first["url"] != second["url"] and first["etag"] == second["etag"]
    assert list(store.keys()) == [first["etag"].strip('"')]


def test_a_copy_serves_the_same_objects_and_the_gc_frees_only_the_deleted_events_own(
        media, events, event, store, media_db):
    media.acting(ACTOR).upload_event_image(event["id"], "original", b64(image("red")))
    copy = events.acting(ACTOR).copy_event(event["id"])
    copied = wait_until(lambda: len(urls_of(events, copy["id"])) == 4
                        and urls_of(events, copy["id"]), timeout=DEADLINE)
    objects = set(store.keys())
    assert len(objects) == 4  # the copy wrote none
    own = media.acting(ACTOR).upload_event_image(event["id"], "logo",
                                                 b64(image("navy", (400, 400))))
    own_url = own["media"][0]["url"]
    stray = store.put(b"bytes of an upload that rolled back")

    events.acting(ACTOR).delete_event(event["id"])
    wait_until(lambda: served(media, own_url) is None, timeout=DEADLINE)
    assert gc.collect(media_db, store, 3600) == gc.Collected(0, 0, 0)  # within the grace period
    collected = gc.collect(media_db, store, 0)

    assert collected == gc.Collected(records=5, blobs=1, stray_files=1,
                                     freed_bytes=own["media"][0]["size"])
    assert set(store.keys()) == objects  # the copy's, and no more
    assert stray not in set(store.keys())
    assert all(served(media, url) for url in copied.values())
    assert key_of(own_url) not in {key_of(url) for url in copied.values()}


def test_the_gc_lists_the_bucket_page_by_page_and_deletes_in_batches(s3, media_db, monkeypatch):
    store = S3BlobStore(s3.client(), BUCKET, page=2)
    monkeypatch.setattr(gc, "BATCH", 2)
    unreferenced = [store.put(f"a blob no record uses {n}".encode()) for n in range(3)]
    with media_db.begin() as connection:
        connection.execute(insert(Blob), [{"key": key, "size": 22} for key in unreferenced])
    for n in range(5):
        store.put(f"bytes of an upload that rolled back {n}".encode())
    deletes = []
    delete_objects = store.client.delete_objects
    monkeypatch.setattr(store.client, "delete_objects", lambda **request: (
        deletes.append(len(request["Delete"]["Objects"])) or delete_objects(**request)))

    assert gc.collect(media_db, store, 0) == gc.Collected(records=0, blobs=3, stray_files=5,
                                                          freed_bytes=3 * 22)

    assert deletes == [2, 1, 2, 2, 1]
    assert list(store.keys()) == [] and count(media_db, Blob) == 0
