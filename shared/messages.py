"""The base of every AMQP event of the system: a versioned, validated,
immutable type. The types themselves are each service's public face, in
`contracts.<service>.messages`.

A message is published as the JSON object `to_payload()` gives, on the
source service's nameko event exchange with `event_type` as routing key.
Consumers turn the payload back into the type with `parse()`, which rejects a
malformed payload with `InvalidMessage` (such a message is dead-lettered at
once: retrying cannot fix it); a handler refuses a claim its own data
contradicts with `ForgedMessage`, which goes the same way. Changing a
type's fields bumps its `version`; its `upcast` turns the previous
version's payloads into the current shape for at least one release.
"""
from datetime import UTC, datetime
from typing import ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.errors import InvalidInput
from shared.validation import describe


class InvalidMessage(InvalidInput):
    """A message no retry can make acceptable: dead-lettered at once, with
    this error as the reason (`shared.handlers`)."""

    code = "invalid_message"


class ForgedMessage(InvalidMessage):
    """A well-formed message whose claim the consumer's own data contradicts
    (an invite it does not hold as accepted, an event it knows otherwise),
    or that repeats a claim already honoured under another message id: a
    forgery or a replay. The handler refuses it; nothing changes."""

    code = "forged_message"


class Message(BaseModel):
    # the JSON Schema of a published message (contracts.asyncapi) requires
    # the fields every payload carries, defaults included
    model_config = ConfigDict(frozen=True, extra="forbid",
                              json_schema_serialization_defaults_required=True)

    source: ClassVar[str]
    event_type: ClassVar[str]

    message_id: UUID = Field(default_factory=uuid4)
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    version: Literal[1] = 1

    @classmethod
    def upcast(cls, payload):
        """The payload of an earlier version in this version's shape."""
        return payload

    @classmethod
    def parse(cls, payload):
        try:
            return cls.model_validate(cls.upcast(payload))
        except ValidationError as exc:
            raise InvalidMessage(f"malformed {cls.event_type} message: {describe(exc)}") from None

    def to_payload(self):
        return self.model_dump(mode="json")
