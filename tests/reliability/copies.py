"""Copies under fire: an event worth copying, many copies requested the
way a careful client does (one Idempotency-Key each, retried on 503), and
what the databases say each copy became."""
import time
import uuid
from dataclasses import dataclass, field

import eventlet
import requests
from sqlalchemy import text

from tests.support.http import ok
from tests.support.media import image

EVENT = {"name": "Reliability Summit", "starts_at": "2030-06-01T09:00:00+00:00",
         "ends_at": "2030-06-02T18:00:00+00:00"}
RETRY_PAUSE_SECONDS = 0.2  # a client's pause before it sends a refused request again


def source_event(owner):
    """An event with children, an image (with renditions) and a sponsor logo."""
    event = ok(owner.post("/v1/events", EVENT), 201)
    ref = event["id"]
    ok(owner.post(f"/v1/events/{ref}/tracks", {"name": "Core", "color": "#123456"}), 201)
    ok(owner.post(f"/v1/events/{ref}/tickets", {"name": "Standard", "type": "free"}), 201)
    sponsor = ok(owner.post(f"/v1/events/{ref}/sponsors", {"name": "Acme"}), 201)
    ok(owner.put(f"/v1/events/{ref}/images/original", data=image("teal", (1400, 600)),
                 headers={"Content-Type": "image/png"}))
    ok(owner.put(f"/v1/sponsors/{sponsor['id']}/logo", data=image("gold", (300, 150)),
                 headers={"Content-Type": "image/png"}))
    return event


@dataclass
class Outcome:
    """What the clients saw: each key's copy id (None: never answered 201)
    and every status they were given."""

    copies: dict = field(default_factory=dict)
    statuses: list = field(default_factory=list)
    slowest_refusal: float = 0.0

    @property
    def completed(self):
        return sum(copy_id is not None for copy_id in self.copies.values())


def request_copies(client, source_id, count, concurrency, deadline_seconds=120):
    """`count` copies, each with its own key, retried after a 503 or a
    dropped connection until 201 or the deadline."""
    outcome = Outcome()
    deadline = time.monotonic() + deadline_seconds

    def copy_until_done(key):
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                response = client.post(f"/v1/events/{source_id}/copy",
                                       headers={"Idempotency-Key": key})
            except requests.RequestException:
                outcome.statuses.append("connection error")
            else:
                outcome.statuses.append(response.status_code)
                if response.status_code == 201:
                    return key, response.json()["id"]
                outcome.slowest_refusal = max(outcome.slowest_refusal,
                                              time.monotonic() - started)
                if response.status_code != 503:
                    return key, None
            eventlet.sleep(RETRY_PAUSE_SECONDS)
        return key, None

    keys = [str(uuid.uuid4()) for _ in range(count)]
    outcome.copies = dict(eventlet.GreenPool(concurrency).imap(copy_until_done, keys))
    return outcome


def media_counts(system, event_ids):
    """Event id -> its live media records."""
    return _counts(system, "media", "SELECT event_id, count(*) FROM media"
                   " WHERE event_id = ANY(:ids) AND deleted_at IS NULL GROUP BY event_id",
                   event_ids)


def team_sizes(system, event_ids):
    """Event id -> its team's role rows."""
    return _counts(system, "roles", "SELECT event_id, count(*) FROM users_events_roles"
                   " WHERE event_id = ANY(:ids) GROUP BY event_id", event_ids)


def _counts(system, service, query, event_ids):
    with system.engine(service).connect() as connection:
        counts = dict(connection.execute(text(query), {"ids": list(event_ids)}).all())
    return {event_id: counts.get(event_id, 0) for event_id in event_ids}


def copies_in_database(system, source_id):
    """Copy id -> (media records, team rows, shows an image URL) for every
    copy of the source the events database holds."""
    with system.engine("events").connect() as connection:
        shown = dict(connection.execute(text(
            "SELECT id, original_image_url IS NOT NULL FROM events"
            " WHERE copied_from_id = :source"), {"source": source_id}).all())
    media, team = media_counts(system, shown), team_sizes(system, shown)
    return {copy_id: (media[copy_id], team[copy_id], shown[copy_id]) for copy_id in shown}


def expected_copy(system, source_id):
    """What a complete copy of the source holds, as `copies_in_database` says."""
    return (media_counts(system, [source_id])[source_id],
            team_sizes(system, [source_id])[source_id], True)


def complete(system, source_id, copy_ids):
    """Whether every copy has all its media, its team and its image URL."""
    expected = expected_copy(system, source_id)
    found = copies_in_database(system, source_id)
    return all(found.get(copy_id) == expected for copy_id in copy_ids)


def excess(found, expected):
    """Media records and team rows beyond what a copy holds: duplicates."""
    return sum(max(0, media - expected[0]) + max(0, team - expected[1])
               for media, team, _ in found)
