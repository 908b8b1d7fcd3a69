"""What callers send the webhooks service, and what it answers."""
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from shared.validation import Answer, Schema

# the message types a webhook may ask for: every message of the system that
# names an event (`contracts.catalog`); none carries a secret
EVENT_TYPES = (
    "event.copied", "event.deleted", "event.visibility_changed", "sponsor.deleted",
    "invite.created", "invite.resent", "invite.accepted", "role.changed", "role.revoked",
    "media.copied", "media.changed",
)
PING = "webhook.ping"  # what `POST …/test` sends

EventType = Literal[EVENT_TYPES]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def _distinct(events):
    if len(set(events)) != len(events):
        raise ValueError("name each type once")
    return events


EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES)),
                       AfterValidator(_distinct)]


class WebhookIn(Schema):
    """An endpoint to POST the event's messages of `events` to."""

    url: Url
    events: EventTypes
    description: Description = ""


class WebhookUpdate(Schema):
    url: Url = None
    events: EventTypes = None
    enabled: bool = None
    description: Description = None

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("send url, events, enabled or description")
        return self


# answers

class Webhook(Answer):
    id: int
    event_id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    failing_since: str | None = Field(description="since when every delivery failed, if so")
    disabled_reason: str | None
    created_at: str


class NewWebhook(Webhook):
    """A created webhook, with its signing secret: shown this once."""

    secret: str = Field(description="the Standard Webhooks signing secret, `whsec_<base64>`")


class Attempt(Answer):
    number: int
    started_at: str
    duration_ms: int
    status_code: int | None = Field(description="the receiver's answer, none if it gave none")
    error: str | None


class Delivery(Answer):
    id: int
    webhook_id: int
    message_id: str = Field(description="the `webhook-id` header: the source message's id")
    type: str
    status: Literal["pending", "succeeded", "failed"]
    next_attempt_at: str | None
    created_at: str
    attempts: list[Attempt]
