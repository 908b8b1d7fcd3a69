"""An event's media duplicated when the event is copied: the media service
gives the copy its own records on `event.copied` (new keys, the same blobs,
no bytes written), announces them with `media.copied`, and the events
service shows them. Exactly once, whatever is redelivered or crashes.
Real PostgreSQL and RabbitMQ, real events service."""
import pytest
from sqlalchemy import func, select

from contracts.events.messages import EventCopied
from contracts.media.messages import MediaCopied
from services.media.models import Media
from shared import deadletters, outbox
from tests.support.broker import queue_depth
from tests.support.media import (
    ACTOR,
    EVENT,
    b64,
    count,
    event_urls,
    image,
    key_of,
    live_records,
    publish,
    served_bytes,
    sponsor_logos,
    stored,
)
from tests.support.tap import EventTap, wait_until

COPIED_QUEUE = "evt-events-event.copied--media.on_event_copied"
SPONSORS = ("ACME", "Globex")
IMAGES_OF_SOURCE = 7  # original, large, thumbnail, icon, logo and two sponsor logos


@pytest.fixture
def media_copied(amqp_uri):
    """The `media.copied` messages the media service publishes."""
    tap = EventTap(amqp_uri, "media", "media.copied")
    yield tap
    tap.close()


def new_event_with_sponsors(events):
    event = events.acting(ACTOR).create_event(EVENT)
    sponsors = [events.acting(ACTOR).create_child(event["id"], "sponsors", {"name": name})
                for name in SPONSORS]
    return event, sponsors


@pytest.fixture
def source(media, events):
    """An event with an original (and its renditions), a logo, and two
    sponsors with logos."""
    event, sponsors = new_event_with_sponsors(events)
    media.acting(ACTOR).upload_event_image(event["id"], "original", b64(image("red")))
    media.acting(ACTOR).upload_event_image(event["id"], "logo", b64(image("navy", (400, 400))))
    for sponsor, color in zip(sponsors, ("green", "orange"), strict=True):
        media.acting(ACTOR).upload_sponsor_logo(sponsor["id"], b64(image(color, (300, 100))))
    return event


def shown(events, event_id):
    """Every media URL the events service shows for the event: its URL
    fields and its sponsors' logos (by sponsor name)."""
    logos = {f"{sponsor['name']} logo": sponsor["logo_url"]
             for sponsor in events.list_children(event_id, "sponsors")["items"]}
    return {**event_urls(events, event_id), **logos}


def wait_for_media(events, event_id):
    """The event's media URLs, once every one of them is set."""
    def all_set():
        urls = shown(events, event_id)
        return urls if all(urls.values()) else None
    return wait_until(all_set)


def copy_with_media(events, source):
    copy = events.acting(ACTOR).copy_event(source["id"])
    wait_for_media(events, copy["id"])
    return copy


def blobs_and_files(media_db, media_root):
    everything = stored(media_db, media_root)
    return everything["blobs"], everything["files"]


def records_of(media_db, event_id):
    """How many records, live or retired, the event (and its sponsors) have."""
    return count(media_db, Media, Media.event_id == event_id)


# duplication


def test_a_copy_shows_its_own_urls_serving_the_same_images(media, events, source):
    copy = copy_with_media(events, source)

    original, copied = shown(events, source["id"]), shown(events, copy["id"])
    assert copied.keys() == original.keys() and len(copied) == IMAGES_OF_SOURCE
    for field, url in copied.items():
        assert url != original[field]
        assert (media.read_media(key_of(url))["etag"]
                == media.read_media(key_of(original[field]))["etag"])
        assert served_bytes(media, url) == served_bytes(media, original[field])


def test_copying_media_writes_records_but_no_bytes(events, source, media_db, media_root):
    before = blobs_and_files(media_db, media_root)

    copy = copy_with_media(events, source)

    assert blobs_and_files(media_db, media_root) == before
    assert live_records(media_db, copy["id"]) == live_records(media_db, source["id"]) \
        == IMAGES_OF_SOURCE


def test_media_copied_announces_the_urls_the_copy_shows(events, source, media_copied):
    copy = copy_with_media(events, source)

    routing_key, payload = media_copied.next()
    message = MediaCopied.parse(payload)
    assert routing_key == "media.copied"
    assert (message.source_event_id, message.event_id) == (source["id"], copy["id"])
    assert message.event_urls == event_urls(events, copy["id"])
    assert message.sponsor_urls == sponsor_logos(events, copy["id"])


def test_the_copy_owns_its_media(media, events, source):
    copy = copy_with_media(events, source)
    source_urls = shown(events, source["id"])

    media.acting(ACTOR).upload_event_image(copy["id"], "original", b64(image("blue")))
    assert shown(events, source["id"]) == source_urls
    assert all(served_bytes(media, url) for url in source_urls.values())

    media.acting(ACTOR).delete_event_image(source["id"], "original")
    media.acting(ACTOR).delete_sponsor_logo(events.list_children(source["id"], "sponsors")
                              ["items"][0]["id"])
    assert all(served_bytes(media, url) for url in shown(events, copy["id"]).values())


# exactly once


def test_event_copied_delivered_three_times_makes_one_set_of_records(
        media, events, source, media_db, amqp_uri, media_copied):
    target, target_sponsors = new_event_with_sponsors(events)
    source_sponsors = events.list_children(source["id"], "sponsors")["items"]
    message = EventCopied(
        source_event_id=source["id"], source_identifier=source["identifier"],
        event_id=target["id"], identifier=target["identifier"], actor_id=ACTOR,
        sponsor_ids={old["id"]: new["id"]
                     for old, new in zip(source_sponsors, target_sponsors, strict=True)})

    for _ in range(3):
        publish(amqp_uri, message)

    wait_for_media(events, target["id"])
    media.container.stop()  # every delivery handled or back in its queue
    assert records_of(media_db, target["id"]) == IMAGES_OF_SOURCE
    assert queue_depth(amqp_uri, COPIED_QUEUE) == 0
    media_copied.next()
    assert media_copied.pending() == 0  # one media.copied


def test_a_copy_that_crashes_after_inserting_its_records_is_redone_once(
        events, source, media_db, media_root, amqp_uri, monkeypatch):
    inserted_before_the_crash = []
    add = outbox.add

    def crash_before_announcing_the_first_copy(session, message, headers=None):
        if isinstance(message, MediaCopied) and not inserted_before_the_crash:
            inserted_before_the_crash.append(session.scalar(
                select(func.count()).select_from(Media)
                .where(Media.event_id == message.event_id)))
            raise RuntimeError("the worker dies between the records and media.copied")
        return add(session, message, headers)
    monkeypatch.setattr(outbox, "add", crash_before_announcing_the_first_copy)
    before = blobs_and_files(media_db, media_root)

    copy = copy_with_media(events, source)

    assert inserted_before_the_crash == [IMAGES_OF_SOURCE]  # then rolled back
    assert records_of(media_db, copy["id"]) == IMAGES_OF_SOURCE
    assert blobs_and_files(media_db, media_root) == before
    assert deadletters.list_dead_letters(amqp_uri, "media") == []
