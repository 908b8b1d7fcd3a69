"""What the events service publishes (on its nameko event exchange, the
type's `event_type` as routing key); see shared.messages for the base."""
from pydantic import Field

from shared.messages import Message


class EventCreated(Message):
    """An event was created; its creator is its owner."""

    source = "events"
    event_type = "event.created"

    event_id: int
    identifier: str
    owner_id: int


class EventCopied(Message):
    """An event was copied, with its children; its media and team follow
    (the media and roles services consume this)."""

    source = "events"
    event_type = "event.copied"

    source_event_id: int
    source_identifier: str
    event_id: int
    identifier: str
    actor_id: int
    sponsor_ids: dict[int, int] = Field(description="old sponsor id -> new sponsor id")


class EventDeleted(Message):
    """An event was (soft) deleted, with its children (the roles service
    takes no more invites for it; the media service retires its and its
    sponsors' images)."""

    source = "events"
    event_type = "event.deleted"

    event_id: int
    identifier: str


class EventVisibilityChanged(Message):
    """An event became published and public, or stopped being so (the media
    service lets shared caches keep only a public event's images). Numbered
    per event in commit order (`visibility_version`), so that a consumer can
    keep the newest."""

    source = "events"
    event_type = "event.visibility_changed"

    event_id: int
    public: bool = Field(description="published and public now")
    visibility_version: int


class SponsorDeleted(Message):
    """A sponsor was (soft) deleted (the media service retires its logo)."""

    source = "events"
    event_type = "sponsor.deleted"

    sponsor_id: int
    event_id: int
