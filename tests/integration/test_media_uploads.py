"""Event and sponsor images through the media service's RPC, beside the real
events service on the real PostgreSQL and RabbitMQ: uploads with their
renditions, shown on the event at once; refusals that write nothing;
replacing and deleting; blobs stored once; serving; the `media.changed`
fallback; garbage collection."""
import hashlib
import io
import os
import time
from pathlib import Path

import PIL.Image
import pytest
from nameko.constants import AMQP_URI_CONFIG_KEY
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from contracts.errors import AccessDenied, EventNotFound
from contracts.events.errors import InvalidEventData
from contracts.media.errors import (
    ImageTooLarge,
    InvalidImage,
    InvalidMediaData,
    MediaNotFound,
    SponsorNotFound,
    UnknownSlot,
)
from contracts.media.messages import MediaChanged
from contracts.vocabulary import EVENT_IMAGE_FIELDS
from services.events import media_urls
from services.events.media_urls import EVENT_URL_FIELDS
from services.media import gc
from services.media.media import lock_blob
from services.media.models import Blob
from services.media.service import MediaService
from services.media.storage import INCOMPLETE_PREFIX, LocalBlobStore, blob_key
from shared.errors import Unavailable
from shared.inbox import handled
from shared.metrics import metrics_of
from shared.relay import RELAY_LOCK
from tests.support.broker import CallerProxy
from tests.support.media import (
    ACTOR,
    EVENT,
    RENDITION_SLOTS,
    b64,
    event_urls,
    files_under,
    image,
    key_of,
    noise,
    png_claiming,
    publish,
    served_bytes,
    sponsor_logos,
    stored,
)
from tests.support.services import proof_of, start_service
from tests.support.tap import EventTap, wait_until

NO_URLS = dict.fromkeys(EVENT_URL_FIELDS)
BASE_URL = "http://media.test/media/"
LOGO = image("navy", (400, 400))


@pytest.fixture
def media_changed(amqp_uri):
    """The `media.changed` messages the media service publishes."""
    tap = EventTap(amqp_uri, "media", "media.changed")
    yield tap
    tap.close()


@pytest.fixture
def new_event(events):
    return lambda: events.acting(ACTOR).create_event(EVENT)


@pytest.fixture
def event(new_event):
    return new_event()


@pytest.fixture
def sponsor(events, event):
    return events.acting(ACTOR).create_child(event["id"], "sponsors", {"name": "ACME"})


def handled_by_events(events_db, message):
    with Session(events_db) as session:
        return handled(session, "events", message)


def upload(media, event, data, slot="original"):
    return media.acting(ACTOR).upload_event_image(event["id"], slot, b64(data))


def upload_sponsor_logo(media, sponsor, data):
    return media.acting(ACTOR).upload_sponsor_logo(sponsor["id"], b64(data))


def by_slot(answer):
    return {record["slot"]: record for record in answer["media"]}


def urls_of(answer):
    """The event's URL fields an upload's records give."""
    return {EVENT_IMAGE_FIELDS[record["slot"]]: record["url"] for record in answer["media"]}


def opened(data):
    return PIL.Image.open(io.BytesIO(data))


def assert_not_served(media, *urls):
    for url in urls:
        with pytest.raises(MediaNotFound):
            media.read_media(key_of(url))


def fail_first_call(monkeypatch, module, name, error):
    """Make `module.name` raise `error` the first time it is called; the
    calls, as a list to look at."""
    real, calls = getattr(module, name), []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise error
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, flaky)
    return calls


# uploads


def test_an_original_gets_renditions_that_fit_their_boxes_keeping_its_aspect(media, event):
    records = by_slot(upload(media, event, image(size=(1430, 550))))

    assert {slot: (r["width"], r["height"]) for slot, r in records.items()} == {
        "original": (1430, 550), "large": (1300, 500), "thumbnail": (500, 192), "icon": (75, 29)}
    for record in records.values():
        assert record["content_type"] == "image/png"
        assert opened(served_bytes(media, record["url"])).size == (record["width"],
                                                                    record["height"])


def test_the_event_read_right_after_an_upload_shows_its_urls(media, events, event):
    answer = upload(media, event, image())

    assert answer["event_updated"] is True
    assert event_urls(events, event["id"]) == {**urls_of(answer), "logo_url": None}
    assert all(url.startswith(BASE_URL) for url in urls_of(answer).values())


def test_uploads_as_many_at_once_as_may_be_decoded_or_wait_each_read_their_writes(
        container_factory, media_config, events, new_event, amqp_uri):
    # no upload may wait for a media worker that another upload holds; uploads
    # may hold all the workers but one (MEDIA_DECODES_AT_ONCE + _WAITING)
    start_service(container_factory, MediaService, {
        **media_config, "max_workers": 3, "MEDIA_DECODES_AT_ONCE": 1,
        "MEDIA_DECODES_WAITING": 1, "RPC_TIMEOUT": 2})
    targets = [new_event(), new_event()]

    with CallerProxy("media", {AMQP_URI_CONFIG_KEY: amqp_uri},  # concurrent calls
                     context_data=proof_of(ACTOR)) as rpc:
        replies = [rpc.upload_event_image.call_async(target["id"], "logo",
                                                     b64(image(color, (300, 100))))
                   for target, color in zip(targets, ("red", "blue"), strict=True)]
        answers = [reply.result() for reply in replies]

    assert [answer["event_updated"] for answer in answers] == [True, True]
    for target, answer in zip(targets, answers, strict=True):
        assert event_urls(events, target["id"]) == {**NO_URLS, **urls_of(answer)}


def test_a_logo_upload_sets_only_the_logo_url(media, events, event):
    answer = upload(media, event, LOGO, slot="logo")

    [record] = answer["media"]
    assert (record["slot"], record["width"], record["height"]) == ("logo", 400, 400)
    assert answer["event_updated"] is True
    assert event_urls(events, event["id"]) == {**NO_URLS, "logo_url": record["url"]}


def test_a_sponsor_logo_shows_on_the_sponsor_right_after_the_upload(media, events, sponsor):
    answer = upload_sponsor_logo(media, sponsor, image("navy", (400, 200)))

    [record] = answer["media"]
    assert (record["owner_kind"], record["owner_id"], record["slot"]) == (
        "sponsor", sponsor["id"], "logo")
    assert answer["event_updated"] is True
    assert events.get_child("sponsors", sponsor["id"])["logo_url"] == record["url"]
    assert event_urls(events, sponsor["event_id"]) == NO_URLS


def test_an_event_can_be_named_by_its_identifier(media, events, event):
    answer = media.acting(ACTOR).upload_event_image(event["identifier"], "logo", b64(LOGO))

    assert answer["event_id"] == event["id"]
    assert events.get_event(event["id"])["logo_url"] == answer["media"][0]["url"]


def test_a_photo_is_stored_without_its_exif_gps(media, event):
    exif = PIL.Image.Exif()
    exif[0x010F] = "SpyCam"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 7.5), 3: "E", 4: (13.0, 24.0, 1.5)}  # GPS
    photo = image(size=(1600, 1200), fmt="JPEG", exif=exif)
    assert opened(photo).getexif().get_ifd(0x8825)

    answer = upload(media, event, photo)

    for record in answer["media"]:
        data = served_bytes(media, record["url"])
        assert record["content_type"] == "image/jpeg"
        assert not opened(data).getexif() and "exif" not in opened(data).info
        assert b"SpyCam" not in data


# refusals: a registered error, and nothing written


@pytest.fixture
def strict_media(container_factory, media_config, events):
    """The media service with small limits: 20 kB and 100,000 pixels."""
    return start_service(container_factory, MediaService, {
        **media_config, "MEDIA_MAX_BYTES": 20_000, "MEDIA_MAX_PIXELS": 100_000})


SMALL = image("olive", (300, 100))
TRUNCATED = noise((64, 48))[:3000]


def to_event(content, slot="original", ref=None):
    return lambda media, event, sponsor: media.acting(ACTOR).upload_event_image(
        ref or event["id"], slot, content)


def to_sponsor(content, sponsor_id=None):
    return lambda media, event, sponsor: media.acting(ACTOR).upload_sponsor_logo(
        sponsor_id or sponsor["id"], content
    )


def deleting(slot="original", ref=None):
    return lambda media, event, sponsor: media.acting(ACTOR).delete_event_image(
        ref or event["id"], slot
    )


def deleting_sponsor_logo(sponsor_id):
    return lambda media, event, sponsor: media.acting(ACTOR).delete_sponsor_logo(sponsor_id)


REFUSED = {
    "images that are not whole or too large": {
        "not an image": (to_event(b64(b"just some text")), InvalidImage),
        "a truncated image": (to_event(b64(TRUNCATED)), InvalidImage),
        "a sponsor logo that is not an image": (to_sponsor(b64(b"some text")), InvalidImage),
        "too many bytes": (to_event(b64(noise((120, 120)))), ImageTooLarge),
        "too many pixels": (to_event(b64(image("teal", (1000, 400)))), ImageTooLarge),
        "a decompression bomb": (to_event(b64(png_claiming(30_000, 30_000))), ImageTooLarge),
    },
    "unknown slots, events and sponsors": {
        "an unknown slot": (to_event(b64(SMALL), slot="banner"), UnknownSlot),
        "an unknown event": (to_event(b64(SMALL), ref=987654), EventNotFound),
        "an unknown sponsor": (to_sponsor(b64(SMALL), sponsor_id=987654), SponsorNotFound),
        "deleting an unknown slot": (deleting(slot="banner"), UnknownSlot),
        "deleting from an unknown event": (deleting(ref=987654), EventNotFound),
        "deleting an unknown sponsor's logo": (deleting_sponsor_logo(987654), SponsorNotFound),
    },
    "content that is not base64": {
        "not base64": (to_event("not base64 at all!"), InvalidMediaData),
        "base64 with a stray character": (to_event(b64(SMALL) + "*"), InvalidMediaData),
        "raw bytes": (to_event(SMALL), InvalidMediaData),
        "raw bytes for a sponsor": (to_sponsor(SMALL), InvalidMediaData),
    },
}


@pytest.mark.parametrize("cases", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_request_raises_its_error_and_writes_nothing(
    strict_media, events, event, sponsor, media_db, media_root, cases
):
    upload(strict_media, event, SMALL)
    upload_sponsor_logo(strict_media, sponsor, SMALL)

    def everything():
        return (
            stored(media_db, media_root),
            event_urls(events, event["id"]),
            sponsor_logos(events, event["id"]),
        )

    before = everything()

    for case, (refused, error) in cases.items():
        with pytest.raises(error):
            refused(strict_media, event, sponsor)
        assert everything() == before, case


def test_an_actor_without_the_right_is_refused_before_the_upload_is_decoded(
    media, events, event, roles_stub, media_db, media_root
):
    roles_stub.refused.add(ACTOR)

    with pytest.raises(AccessDenied):
        upload(media, event, b"not an image")

    assert stored(media_db, media_root) == {"records": [], "blobs": [], "versions": [], "files": []}
    assert event_urls(events, event["id"]) == NO_URLS


def test_a_refused_first_upload_leaves_no_record_blob_or_file(
    strict_media, events, event, media_db, media_root
):
    with pytest.raises(ImageTooLarge):
        upload(strict_media, event, noise((120, 120)))

    assert stored(media_db, media_root) == {"records": [], "blobs": [], "versions": [], "files": []}
    assert event_urls(events, event["id"]) == NO_URLS


# replace and delete


def test_a_new_original_retires_the_old_one_and_its_renditions_at_once(media, events, event):
    old = upload(media, event, image("red"))
    new = upload(media, event, image("blue"))

    assert_not_served(media, *urls_of(old).values())
    assert all(served_bytes(media, url) for url in urls_of(new).values())
    assert event_urls(events, event["id"]) == {**urls_of(new), "logo_url": None}


def test_deleting_the_original_retires_it_and_its_renditions_and_keeps_the_logo(
    media, events, event
):
    original = upload(media, event, image("red"))
    logo = upload(media, event, LOGO, slot="logo")

    answer = media.acting(ACTOR).delete_event_image(event["id"], "original")

    assert answer["event_updated"] is True and answer["media"] == []
    assert_not_served(media, *urls_of(original).values())
    assert event_urls(events, event["id"]) == {**NO_URLS, **urls_of(logo)}


def test_deleting_the_logo_clears_the_logo_url(media, events, event):
    original = upload(media, event, image("red"))
    logo = upload(media, event, LOGO, slot="logo")

    media.acting(ACTOR).delete_event_image(event["id"], "logo")

    assert_not_served(media, *urls_of(logo).values())
    assert event_urls(events, event["id"]) == {**urls_of(original), "logo_url": None}


def test_deleting_a_sponsor_logo_clears_it_on_the_sponsor(media, events, sponsor):
    [logo] = upload_sponsor_logo(media, sponsor, image("navy", (400, 200)))["media"]

    media.acting(ACTOR).delete_sponsor_logo(sponsor["id"])

    assert_not_served(media, logo["url"])
    assert events.get_child("sponsors", sponsor["id"])["logo_url"] is None


# content addressing


def test_the_same_image_on_two_events_is_stored_once_under_two_keys(
    media, new_event, media_db, media_root
):
    data = image("red")
    first, second = (upload(media, new_event(), data) for _ in range(2))

    assert len(files_under(media_root)) == len(stored(media_db, media_root)["blobs"]) == 4
    assert len(stored(media_db, media_root)["records"]) == 8
    for slot in RENDITION_SLOTS:
        one, other = by_slot(first)[slot], by_slot(second)[slot]
        assert one["url"] != other["url"] and one["etag"] == other["etag"]


def test_retiring_one_of_two_records_of_a_blob_keeps_the_other_serving(media, new_event):
    data = image("red")
    first_event, second_event = new_event(), new_event()
    first, second = upload(media, first_event, data), upload(media, second_event, data)

    media.acting(ACTOR).delete_event_image(first_event["id"], "original")

    assert_not_served(media, *urls_of(first).values())
    for record in second["media"]:
        assert media.read_media(key_of(record["url"]))["etag"] == record["etag"]


# serving


def test_a_record_serves_its_stored_bytes_with_caching_headers(media, event, media_root):
    record = by_slot(upload(media, event, image("red")))["large"]

    answer = media.read_media(key_of(record["url"]))

    content = served_bytes(media, record["url"])
    digest = hashlib.sha256(content).hexdigest()
    assert answer["content_type"] == "image/png"
    assert answer["etag"] == record["etag"] == f'"{digest}"'
    assert answer["cache_control"] == "private, no-cache"  # a draft's (test_media_lifecycle)
    assert answer["size"] == len(content) == record["size"]
    assert content == LocalBlobStore(media_root).open(digest)


def test_a_matching_if_none_match_answers_not_modified_without_content(media, event):
    record = by_slot(upload(media, event, image("red")))["icon"]

    answer = media.read_media(key_of(record["url"]), if_none_match=record["etag"])

    assert answer["not_modified"] is True and answer["etag"] == record["etag"]
    assert "content" not in answer
    assert "content" in media.read_media(key_of(record["url"]), if_none_match='"other"')


def test_a_key_that_names_no_live_record_is_not_found(media):
    for key in (
        "../x",
        "a/b",
        "%2e%2e",
        "..%2F..%2Fetc%2Fpasswd",
        "",
        "k" * 10_000,
        "A" * 43,
        42,
        None,
        ["a", "b"],
    ):
        with pytest.raises(MediaNotFound):
            media.read_media(key)


# the media.changed fallback


def test_each_change_announces_its_version_and_the_events_media_as_they_are_now(
    media, event, media_changed
):
    original = upload(media, event, image("red"))
    logo = upload(media, event, LOGO, slot="logo")
    media.acting(ACTOR).delete_event_image(event["id"], "logo")

    announced = [MediaChanged.parse(media_changed.next()[1]) for _ in range(3)]
    assert [(message.event_id, message.media_version) for message in announced] == [
        (event["id"], 1),
        (event["id"], 2),
        (event["id"], 3),
    ]
    assert [message.event_urls for message in announced] == [
        urls_of(original),
        {**urls_of(original), **urls_of(logo)},
        urls_of(original),
    ]


def test_an_upload_the_events_service_missed_reaches_the_event_through_media_changed(
    media, events, event, media_db, monkeypatch
):
    calls = fail_first_call(monkeypatch, media_urls, "apply", Unavailable("events is down"))

    with media_db.connect() as relay_paused, relay_paused.begin():
        # media.changed waits in the outbox: the first call is the direct one
        relay_paused.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": RELAY_LOCK})
        answer = upload(media, event, image("red"))
        assert answer["event_updated"] is False
        assert event_urls(events, event["id"]) == NO_URLS

    assert wait_until(
        lambda: event_urls(events, event["id"]) == {**urls_of(answer), "logo_url": None}
    )
    assert len(calls) == 2


def test_media_changed_alone_brings_the_event_and_its_sponsors_up_to_date(
    events, event, sponsor, amqp_uri
):
    logo, sponsor_logo = BASE_URL + "e" * 43, BASE_URL + "s" * 43

    publish(
        amqp_uri,
        MediaChanged(
            event_id=event["id"],
            media_version=1,
            event_urls={"logo_url": logo},
            sponsor_urls={sponsor["id"]: sponsor_logo},
        ),
    )

    assert wait_until(lambda: event_urls(events, event["id"]) == {**NO_URLS, "logo_url": logo})
    assert events.get_child("sponsors", sponsor["id"])["logo_url"] == sponsor_logo


def test_a_media_changed_older_than_what_the_event_shows_changes_nothing(
    media, events, event, events_db, amqp_uri
):
    first = upload(media, event, image("red"))
    second = upload(media, event, image("blue"))
    late = MediaChanged(
        event_id=event["id"], media_version=1, event_urls=urls_of(first), sponsor_urls={}
    )

    publish(amqp_uri, late)

    wait_until(lambda: handled_by_events(events_db, late))
    assert event_urls(events, event["id"]) == {**urls_of(second), "logo_url": None}


@pytest.mark.parametrize(
    "version, event_urls, sponsor_urls",
    [
        ("one", {}, {}),
        (0, {}, {}),
        (2, [], {}),
        (2, {"logo_url": 7}, {}),
        (2, {"website": "http://x.test"}, {}),
        (2, {}, None),
    ],
)
def test_urls_sent_to_the_events_service_are_checked(
    events, event, version, event_urls, sponsor_urls
):
    with pytest.raises(InvalidEventData):
        events.apply_media_urls(event["id"], version, event_urls, sponsor_urls)


def test_listing_media_of_a_malformed_event_id_is_refused(media):
    with pytest.raises(InvalidMediaData):
        media.list_event_media("1; DROP TABLE media")


# garbage collection


@pytest.fixture
def collectable(media, new_event, media_db, media_root):
    """Retired records, one blob only a retired record used, blobs that
    retired and live records share, and a stray file; the bytes of the
    unreferenced blob."""
    first, second = new_event(), new_event()
    upload(media, first, image("red"))
    upload(media, first, image("blue"))  # red retired on the first event ...
    upload(media, second, image("red"))  # ... and live on the second
    [logo] = upload(media, first, LOGO, slot="logo")["media"]
    media.acting(ACTOR).delete_event_image(first["id"], "logo")  # its blob: unreferenced
    LocalBlobStore(media_root).put(b"bytes of an upload that rolled back")
    return logo["size"]


def live_keys(media_db):
    with media_db.connect() as connection:
        return connection.execute(
            text("SELECT public_key, blob_key FROM media WHERE deleted_at IS NULL ORDER BY id")
        ).all()


def test_gc_removes_retired_records_unreferenced_blobs_and_stray_files(
    media, collectable, media_db, media_root
):
    live = live_keys(media_db)
    store = LocalBlobStore(media_root)

    assert gc.collect(media_db, store, 0) == gc.Collected(records=5, blobs=1, stray_files=1,
                                                          freed_bytes=collectable)

    assert stored(media_db, media_root)["records"] == [
        (public_key, blob, None) for public_key, blob in live
    ]
    assert (
        sorted(store.keys())
        == stored(media_db, media_root)["blobs"]
        == sorted({blob for _, blob in live})
    )
    for public_key, blob in live:
        assert media.read_media(public_key)["etag"] == f'"{blob}"'


def test_gc_within_the_grace_period_removes_nothing(collectable, media_db, media_root):
    before = stored(media_db, media_root)

    assert gc.collect(media_db, LocalBlobStore(media_root), 3600) == gc.Collected(0, 0, 0)

    assert stored(media_db, media_root) == before


def test_gc_keeps_a_blob_an_upload_is_writing_at_that_moment(media_db, media_root):
    store, data = LocalBlobStore(media_root), b"the bytes of an image being uploaded"
    key = blob_key(data)
    with Session(media_db) as upload_under_way:
        lock_blob(upload_under_way, key)  # as an upload does, then writes the row and bytes
        upload_under_way.execute(insert(Blob).values(key=key, size=len(data)))
        store.put(data)

        assert gc.collect(media_db, store, 0) == gc.Collected(0, 0, 0)
        assert list(store.keys()) == [key]
        upload_under_way.rollback()

    assert gc.collect(media_db, store, 0) == gc.Collected(0, 0, stray_files=1)
    assert files_under(media_root) == []


def test_gc_removes_what_a_write_cut_short_by_a_crash_left_behind(media_db, media_root):
    store = LocalBlobStore(media_root)
    unfinished = Path(media_root) / "ab" / "cd" / f"{INCOMPLETE_PREFIX}crashed"
    unfinished.parent.mkdir(parents=True)
    unfinished.write_bytes(b"half a blob")
    an_hour_ago = time.time() - 3600
    os.utime(unfinished, (an_hour_ago, an_hour_ago))

    assert gc.collect(media_db, store, 60) == gc.Collected(0, 0, stray_files=1)
    assert files_under(media_root) == []


class Unlistable(LocalBlobStore):
    """A store that cannot be listed (its server went away)."""

    def keys(self):
        raise OSError("the store is unreachable")


def test_each_gc_run_is_counted_in_the_media_services_metrics(
    media, collectable, media_db, media_root
):
    registry = metrics_of(media.container).registry

    def runs(outcome):
        return registry.get_sample_value("media_gc_runs_total", {"outcome": outcome})

    assert (runs("success"), runs("error")) == (0, 0)
    gc.run(media_db, LocalBlobStore(media_root), 0)
    with pytest.raises(OSError):
        gc.run(media_db, Unlistable(media_root), 0)

    assert (runs("success"), runs("error")) == (1, 1)
    assert {what: registry.get_sample_value("media_gc_removed_total", {"what": what})
            for what in ("records", "blobs", "stray_files")} == {
        "records": 5, "blobs": 1, "stray_files": 1}
    assert registry.get_sample_value("media_gc_freed_bytes_total") == collectable
