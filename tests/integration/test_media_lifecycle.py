"""Media that end with their owners, and caching that follows the event:
`event.deleted` retires an event's and its sponsors' media, `sponsor.deleted`
a sponsor's logo, and the GC then frees the bytes no live record shares;
`event.visibility_changed` lets caches keep for good only the media of a
published public event. Real PostgreSQL and RabbitMQ, the real events and
media services."""
import pytest
from sqlalchemy.orm import Session

from contracts.errors import EventNotFound
from contracts.events.messages import (
    EventDeleted,
    EventVisibilityChanged,
    SponsorDeleted,
)
from contracts.media.errors import MediaNotFound, SponsorNotFound
from services.media import gc
from services.media.lifecycle import PRIVATE, PUBLIC
from services.media.models import DeletedOwner
from services.media.storage import LocalBlobStore
from shared import deadletters
from shared.inbox import handled
from tests.support.media import (
    ACTOR,
    EVENT,
    b64,
    event_urls,
    files_under,
    image,
    key_of,
    live_records,
    publish,
    sponsor_logos,
)
from tests.support.tap import EventTap, wait_until

DEADLINE = 10.0  # seconds for a message to be handled


def shown(events, event_id):
    """Every media URL the events service shows for the event and its sponsors."""
    urls = [*event_urls(events, event_id).values(), *sponsor_logos(events, event_id).values()]
    return [url for url in urls if url]


def served(media, url):
    try:
        return media.read_media(key_of(url))
    except MediaNotFound:
        return None


def await_gone(media, urls):
    wait_until(lambda: not any(served(media, url) for url in urls), timeout=DEADLINE)


def cache_control(media, url):
    return media.read_media(key_of(url))["cache_control"]


def await_cache_control(media, urls, wanted):
    wait_until(lambda: all(cache_control(media, url) == wanted for url in urls),
               timeout=DEADLINE)


def upload(media, event, color, slot="original"):
    return media.acting(ACTOR).upload_event_image(event["id"], slot, b64(image(color)))


def upload_logo(media, sponsor, color):
    return media.acting(ACTOR).upload_sponsor_logo(sponsor["id"],
                                                   b64(image(color, (300, 100))))


@pytest.fixture
def event(events):
    return events.acting(ACTOR).create_event(EVENT)


@pytest.fixture
def sponsors(events, event):
    return [events.acting(ACTOR).create_child(event["id"], "sponsors", {"name": name})
            for name in ("ACME", "Globex")]


@pytest.fixture
def with_media(media, events, event, sponsors):
    """The event with an original (and its renditions) and two sponsor
    logos: the URLs it shows."""
    upload(media, event, "red")
    for sponsor, color in zip(sponsors, ("green", "orange"), strict=True):
        upload_logo(media, sponsor, color)
    urls = shown(events, event["id"])
    assert len(urls) == 6
    return urls


# deleting an event or a sponsor


def test_deleting_an_event_retires_its_and_its_sponsors_media(
        media, events, event, with_media, media_db):
    events.acting(ACTOR).delete_event(event["id"])

    await_gone(media, with_media)
    assert live_records(media_db, event["id"]) == 0


def test_the_gc_frees_a_deleted_events_bytes_but_those_a_copy_shares(
        media, events, event, sponsors, with_media, media_db, media_root):
    copy = events.acting(ACTOR).copy_event(event["id"])
    copied = wait_until(lambda: len(shown(events, copy["id"])) == 6 and shown(events, copy["id"]),
                        timeout=DEADLINE)
    purple = upload_logo(media, sponsors[0], "purple")["media"][0]  # the source's alone
    files = set(files_under(media_root))
    store = LocalBlobStore(media_root)
    events.acting(ACTOR).delete_event(event["id"])
    await_gone(media, [*with_media, purple["url"]])

    assert gc.collect(media_db, store, 3600) == gc.Collected(0, 0, 0)  # within the grace period
    collected = gc.collect(media_db, store, 0)

    assert (collected.records, collected.blobs) == (7, 1)  # the source's 6 and the purple logo
    assert len(set(files_under(media_root))) == len(files) - 1
    assert all(served(media, url) for url in copied)


def test_deleting_a_sponsor_retires_its_logo_and_nothing_else(
        media, events, event, sponsors, with_media):
    logo = sponsor_logos(events, event["id"])[sponsors[0]["id"]]

    events.acting(ACTOR).delete_child("sponsors", sponsors[0]["id"])

    await_gone(media, [logo])
    assert all(served(media, url) for url in with_media if url != logo)


def test_the_events_service_announces_a_deleted_sponsor(events, event, sponsors, amqp_uri):
    tap = EventTap(amqp_uri, "events", "sponsor.deleted")
    try:
        events.acting(ACTOR).delete_child("sponsors", sponsors[1]["id"])
        routing_key, payload = tap.next()
    finally:
        tap.close()

    message = SponsorDeleted.parse(payload)
    assert (message.sponsor_id, message.event_id) == (sponsors[1]["id"], event["id"])


def deleted_here(media_db, kind, owner_id):
    with Session(media_db) as session:
        return session.get(DeletedOwner, (kind, owner_id))


def test_no_image_is_added_to_an_event_or_sponsor_deleted_meanwhile(
        media, event, sponsors, amqp_uri, media_db):
    """An upload the events service let through just before the deletion
    (here: the messages arrive while the events service still shows both)."""
    publish(amqp_uri, SponsorDeleted(sponsor_id=sponsors[0]["id"], event_id=event["id"]))
    wait_until(lambda: deleted_here(media_db, "sponsor", sponsors[0]["id"]), timeout=DEADLINE)
    with pytest.raises(SponsorNotFound):
        upload_logo(media, sponsors[0], "green")

    publish(amqp_uri, EventDeleted(event_id=event["id"], identifier=event["identifier"]))
    wait_until(lambda: deleted_here(media_db, "event", event["id"]), timeout=DEADLINE)
    with pytest.raises(EventNotFound):
        upload(media, event, "red")
    with pytest.raises(EventNotFound):
        upload_logo(media, sponsors[1], "orange")

    assert live_records(media_db, event["id"]) == 0


def test_sponsor_deleted_naming_another_event_is_refused(
        media, events, event, sponsors, with_media, amqp_uri):
    other = events.acting(ACTOR).create_event(EVENT)
    message = SponsorDeleted(sponsor_id=sponsors[0]["id"], event_id=other["id"])

    publish(amqp_uri, message)

    letter = wait_until(lambda: next(
        (letter for letter in deadletters.list_dead_letters(amqp_uri, "media")
         if letter.message_id == str(message.message_id)), None), timeout=DEADLINE)
    assert "ForgedMessage" in letter.error and f"not {other['id']}" in letter.error
    assert all(served(media, url) for url in with_media)


# how long caches may keep an event's media


def test_a_draft_events_media_are_cached_privately_and_revalidated(media, event, sponsors):
    record = upload(media, event, "red")["media"][0]
    logo = upload_logo(media, sponsors[0], "green")["media"][0]

    assert cache_control(media, record["url"]) == cache_control(media, logo["url"]) == PRIVATE
    assert media.read_media(key_of(record["url"]), if_none_match=record["etag"]) == {
        "not_modified": True, "etag": record["etag"], "cache_control": PRIVATE}


def test_a_published_public_events_media_are_immutable_until_it_turns_private(
        media, events, event, with_media):
    events.acting(ACTOR).update_event(event["id"], {"state": "published"})
    await_cache_control(media, with_media, PUBLIC)

    events.acting(ACTOR).update_event(event["id"], {"privacy": "private"})
    await_cache_control(media, with_media, PRIVATE)


def test_an_event_created_published_and_public_serves_immutable_media(media, events):
    event = events.acting(ACTOR).create_event({**EVENT, "state": "published"})

    url = upload(media, event, "red")["media"][0]["url"]

    await_cache_control(media, [url], PUBLIC)


def test_the_events_service_announces_each_visibility_change_numbered(
        events, event, amqp_uri):
    tap = EventTap(amqp_uri, "events", "event.visibility_changed")
    try:
        for change in ({"state": "published"}, {"name": "Renamed"}, {"privacy": "private"},
                       {"state": "draft"}, {"privacy": "public"}):
            events.acting(ACTOR).update_event(event["id"], change)
        announced = [EventVisibilityChanged.parse(tap.next()[1]) for _ in range(2)]
        assert tap.pending() == 0
    finally:
        tap.close()

    assert [(message.event_id, message.public, message.visibility_version)
            for message in announced] == [(event["id"], True, 1), (event["id"], False, 2)]


def test_a_visibility_change_older_than_the_one_kept_changes_nothing(
        media, event, amqp_uri, media_db):
    url = upload(media, event, "red")["media"][0]["url"]
    newer = EventVisibilityChanged(event_id=event["id"], public=True, visibility_version=2)
    older = EventVisibilityChanged(event_id=event["id"], public=False, visibility_version=1)

    publish(amqp_uri, newer)
    await_cache_control(media, [url], PUBLIC)
    publish(amqp_uri, older)

    def older_handled():
        with Session(media_db) as session:
            return handled(session, "media", older)
    wait_until(older_handled, timeout=DEADLINE)
    assert cache_control(media, url) == PUBLIC
