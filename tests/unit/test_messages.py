from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts.events.messages import (
    EventCopied,
    EventCreated,
    EventDeleted,
    EventVisibilityChanged,
    SponsorDeleted,
)
from contracts.media.messages import MediaChanged, MediaCopied
from contracts.roles.messages import InviteAccepted, InviteCreated
from shared.messages import InvalidMessage

COPIED = dict(source_event_id=1, source_identifier="a1b2c3d4", event_id=2,
              identifier="e5f6a7b8", actor_id=3, sponsor_ids={10: 20})


def test_a_message_carries_id_time_and_version():
    message = EventCreated(event_id=1, identifier="a1b2c3d4", owner_id=7)
    assert isinstance(message.message_id, UUID)
    assert isinstance(message.occurred_at, datetime) and message.occurred_at.tzinfo
    assert message.version == 1


def test_payload_round_trips_through_json_types():
    message = EventCopied(**COPIED)
    payload = message.to_payload()
    assert payload["sponsor_ids"] == {"10": 20}
    assert EventCopied.parse(payload) == message


def test_messages_are_immutable():
    message = EventCopied(**COPIED)
    with pytest.raises(ValidationError, match="frozen"):
        message.event_id = 5


VALID = EventCopied(**COPIED).to_payload()


@pytest.mark.parametrize("payload", [
    {k: v for k, v in VALID.items() if k != "event_id"},
    {**VALID, "event_id": "not a number"},
    {**VALID, "sponsor_ids": ["not", "a", "map"]},
    {**VALID, "unexpected": 1},
])
def test_a_malformed_payload_is_rejected_with_a_clear_error(payload):
    with pytest.raises(InvalidMessage, match="malformed event.copied message"):
        EventCopied.parse(payload)


def test_an_unknown_version_is_rejected():
    payload = {**EventCopied(**COPIED).to_payload(), "version": 2}
    with pytest.raises(InvalidMessage, match="version"):
        EventCopied.parse(payload)


def test_a_naive_timestamp_is_rejected():
    payload = {**MediaCopied(source_event_id=1, event_id=2, event_urls={},
                             sponsor_urls={}).to_payload(), "occurred_at": "2026-01-01T00:00:00"}
    with pytest.raises(InvalidMessage, match="occurred_at"):
        MediaCopied.parse(payload)


EVERY_MESSAGE = [
    EventCreated(event_id=1, identifier="a1b2c3d4", owner_id=7),
    EventCopied(**COPIED),
    EventDeleted(event_id=1, identifier="a1b2c3d4"),
    EventVisibilityChanged(event_id=1, public=True, visibility_version=2),
    SponsorDeleted(sponsor_id=10, event_id=1),
    InviteAccepted(invite_id=1, event_id=2, user_id=3, email="ana@example.org", role="owner"),
    InviteCreated(invite_id=1, event_id=2, event_name="PyCon", email="ana@example.org",
                  role="coorganizer", expires_at=datetime(2030, 1, 1, tzinfo=UTC)),
    MediaCopied(source_event_id=1, event_id=2, event_urls={"logo_url": "http://x.test/media/k"},
                sponsor_urls={10: "http://x.test/media/l"}),
    MediaChanged(event_id=2, media_version=3, event_urls={},
                 sponsor_urls={10: "http://x.test/m/k"}),
]


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda message: message.event_type)
def test_every_message_type_round_trips_through_its_payload(message):
    assert type(message).parse(message.to_payload()) == message


def test_media_changed_is_version_2_with_its_counter_named_media_version():
    payload = MediaChanged(event_id=2, media_version=3, event_urls={},
                           sponsor_urls={}).to_payload()
    assert payload["version"] == 2 and payload["media_version"] == 3


def test_a_version_1_media_changed_whose_version_was_the_counter_is_still_read():
    version_1 = {"message_id": "6f1c2f5e-9d2a-4a53-8d8e-3f0e0f5d2a11",
                 "occurred_at": "2026-11-01T10:00:00+00:00", "version": 7, "event_id": 2,
                 "event_urls": {"logo_url": "http://x.test/media/k"}, "sponsor_urls": {}}
    message = MediaChanged.parse(version_1)
    assert (message.version, message.media_version) == (2, 7)
    assert message.event_urls == {"logo_url": "http://x.test/media/k"}


def test_a_media_changed_of_an_unknown_version_is_rejected():
    payload = {**MediaChanged(event_id=2, media_version=3, event_urls={},
                              sponsor_urls={}).to_payload(), "version": 3}
    with pytest.raises(InvalidMessage, match="version"):
        MediaChanged.parse(payload)
