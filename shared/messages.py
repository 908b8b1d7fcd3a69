"""Message contracts: every AMQP event of the system as a versioned,
validated, immutable type.

A message is published as the JSON object `to_payload()` gives, on the
source service's nameko event exchange with `event_type` as routing key.
Consumers turn the payload back into the type with `parse()`, which rejects a
malformed payload with `InvalidMessage` (such a message is dead-lettered at
once: retrying cannot fix it). Changing a type's fields bumps its `VERSION`.
"""
from datetime import UTC, datetime
from typing import ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.errors import InvalidInput
from shared.validation import describe


class InvalidMessage(InvalidInput):
    code = "invalid_message"


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: ClassVar[str]
    event_type: ClassVar[str]

    message_id: UUID = Field(default_factory=uuid4)
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    version: Literal[1] = 1

    @classmethod
    def parse(cls, payload):
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise InvalidMessage(f"malformed {cls.event_type} message: {describe(exc)}") from None

    def to_payload(self):
        return self.model_dump(mode="json")


class EventCreated(Message):
    source = "events"
    event_type = "event.created"

    event_id: int
    identifier: str
    owner_id: int


class EventCopied(Message):
    source = "events"
    event_type = "event.copied"

    source_event_id: int
    source_identifier: str
    event_id: int
    identifier: str
    actor_id: int
    sponsor_ids: dict[int, int] = Field(description="old sponsor id -> new sponsor id")


class EventDeleted(Message):
    source = "events"
    event_type = "event.deleted"

    event_id: int
    identifier: str


class InviteAccepted(Message):
    source = "roles"
    event_type = "invite.accepted"

    invite_id: int
    event_id: int
    user_id: int
    email: str
    role: str


class InviteCreated(Message):
    """For a notification service. It carries no token: the invite's
    accept link is given back once, to the caller that created it."""

    source = "roles"
    event_type = "invite.created"

    invite_id: int
    event_id: int
    event_name: str
    email: str
    role: str
    expires_at: AwareDatetime


class MediaCopied(Message):
    source = "media"
    event_type = "media.copied"

    source_event_id: int
    event_id: int
    event_urls: dict[str, str] = Field(description="event field -> URL")
    sponsor_urls: dict[int, str] = Field(description="new sponsor id -> URL")


class MediaChanged(Message):
    """An event's or its sponsors' images changed: the event's media as they
    are now, numbered in commit order (`version`), so that a consumer can
    keep the newest."""

    source = "media"
    event_type = "media.changed"

    event_id: int
    version: int
    event_urls: dict[str, str] = Field(description="event field -> URL")
    sponsor_urls: dict[int, str] = Field(description="sponsor id -> URL")
