"""Media that die with their event, on the running system over HTTP: an
event with images and sponsor logos is deleted; every one of its URLs
answers 404 once `event.deleted` is handled (at once, polled with a
deadline), and once the grace period is over the GC has freed the bytes no
live record shares, while a copy of the event keeps serving the bytes it
shares. And how long caches may keep media: a draft's privately,
revalidated; a published public event's for good."""
import time

from services.media import gc
from services.media.lifecycle import PRIVATE, PUBLIC
from services.media.storage import LocalBlobStore
from tests.reliability import flows
from tests.support.http import ok

GRACE_SECONDS = 5.0
DEADLINE = flows.DEADLINE


def key_of(url):
    return url.rsplit("/", 1)[1]


def status(system, url):
    return system.api.get(f"/media/{key_of(url)}").status_code


def shown_urls(person, event_id):
    """The media URLs the event shows: its image fields and sponsors' logos."""
    event = ok(flows.send(lambda: person.api.get(f"/v1/events/{event_id}")))
    sponsors = ok(flows.send(lambda: person.api.get(f"/v1/events/{event_id}/sponsors")))
    return sorted(url for url in [*(event[field] for field in flows.EVENT_URL_FIELDS),
                                  *(sponsor["logo_url"] for sponsor in sponsors["items"])]
                  if url)


def event_with_media(person):
    """An event with an original (and its renditions), a logo and two
    sponsors with logos; the event and its sponsors."""
    event = flows.create_event(person)
    ok(flows.put_image(person, f"/v1/events/{event['id']}/images/original", flows.png("teal")))
    ok(flows.put_image(person, f"/v1/events/{event['id']}/images/logo",
                       flows.png("navy", 400, 400)))
    sponsors = []
    for name, colour in (("ACME", "crimson"), ("Globex", "olive")):
        sponsor = ok(flows.send(lambda name=name: person.api.post(
            f"/v1/events/{event['id']}/sponsors", {"name": name, "level": 1})), 201)
        ok(flows.put_image(person, f"/v1/sponsors/{sponsor['id']}/logo",
                           flows.png(colour, 400, 200)))
        sponsors.append(sponsor)
    return event, sponsors


def blobs_of(system, event_id, live_only=False):
    return {record["blob_key"] for record in flows.media_records(system, event_id, live_only)}


def test_a_deleted_events_urls_404_at_once_and_the_gc_frees_what_no_copy_shares(
        system, report):
    owner = flows.sign_up(system, "owner")
    event, sponsors = event_with_media(owner)
    copied = ok(flows.copy(owner, event["id"], name="PyCon copy"), 201)
    copy_urls = flows.await_value(
        lambda: flows.media_settled(system, copied["id"]) and shown_urls(owner, copied["id"]))
    # after the copy: an original and a logo that are the source's alone
    ok(flows.put_image(owner, f"/v1/events/{event['id']}/images/original", flows.png("gold")))
    ok(flows.put_image(owner, f"/v1/sponsors/{sponsors[0]['id']}/logo",
                       flows.png("purple", 400, 200)))
    urls = shown_urls(owner, event["id"])
    assert len(urls) == 7 and all(status(system, url) == 200 for url in urls)
    shared = blobs_of(system, copied["id"])
    own = blobs_of(system, event["id"]) - shared
    shared_by_urls = len(blobs_of(system, event["id"], live_only=True) & shared)
    store = LocalBlobStore(system.workdir / "media")
    assert own and shared and set(store.keys()) >= own | shared

    started = time.monotonic()
    assert ok(flows.send(lambda: owner.api.delete(f"/v1/events/{event['id']}")), 204) is None
    try:
        flows.await_value(lambda: all(status(system, url) == 404 for url in urls))
    except AssertionError:
        pass
    seconds_to_404 = round(time.monotonic() - started, 2)
    served = [url for url in urls if status(system, url) != 404]

    engine = system.engine("media")
    collected = [gc.collect(engine, store, GRACE_SECONDS)]  # within the grace period

    def own_bytes_freed():
        collected.append(gc.collect(engine, store, GRACE_SECONDS))
        return not own & set(store.keys())
    try:
        flows.await_value(own_bytes_freed, timeout=GRACE_SECONDS + DEADLINE, interval=0.5)
    except AssertionError:
        pass
    left = own & set(store.keys())
    kept = shared & set(store.keys())
    copy_serves = all(status(system, url) == 200 for url in copy_urls)
    freed = sum(run.blobs for run in collected)

    passed = (not served and collected[0].blobs == 0 and freed == len(own) and not left
              and kept == shared and copy_serves)
    report(scenario="media die with their event",
           injected=f"an event deleted with {len(urls)} image and logo URLs; a copy shares "
           f"{shared_by_urls} of their blobs",
           requested=len(urls), completed=len(urls) - len(served), lost=len(served),
           duplicated=0, passed=passed, seconds_to_404=seconds_to_404,
           grace_seconds=GRACE_SECONDS, blobs_freed=freed, blobs_kept_for_the_copy=len(kept))
    assert not served, f"still served after {seconds_to_404}s: {served}"
    assert collected[0].blobs == 0, "bytes freed within the grace period"
    assert freed == len(own) and not left, f"not freed: {left}"
    assert kept == shared and copy_serves


def test_only_a_published_public_events_media_may_be_cached_for_good(system):
    owner = flows.sign_up(system, "organizer")
    event, _ = event_with_media(owner)
    urls = shown_urls(owner, event["id"])

    def cache_controls():
        return {system.api.get(f"/media/{key_of(url)}").headers["Cache-Control"]
                for url in urls}

    def revalidated(url):
        first = system.api.get(f"/media/{key_of(url)}")
        again = system.api.get(f"/media/{key_of(url)}",
                               headers={"If-None-Match": first.headers["ETag"]})
        return again.status_code, again.headers["Cache-Control"]

    assert cache_controls() == {PRIVATE}
    assert revalidated(urls[0]) == (304, PRIVATE)
    ok(flows.send(lambda: owner.api.patch(f"/v1/events/{event['id']}", {"state": "published"})))
    flows.await_value(lambda: cache_controls() == {PUBLIC})
    ok(flows.send(lambda: owner.api.patch(f"/v1/events/{event['id']}", {"privacy": "private"})))
    flows.await_value(lambda: cache_controls() == {PRIVATE})
