"""What the webhooks service publishes (on its nameko event exchange, the
type's `event_type` as routing key); see shared.messages for the base."""
from pydantic import AwareDatetime, Field

from shared.messages import Message


class WebhookDisabled(Message):
    """A webhook failed every delivery for `WEBHOOK_DISABLE_AFTER` and was
    disabled; the notifications service mails the event's owner how to
    turn it on again. It names the endpoint by its origin only (a URL's
    path or query may hold a token of the receiver's), and never carries
    the signing secret."""

    source = "webhooks"
    event_type = "webhook.disabled"

    webhook_id: int
    event_id: int
    origin: str = Field(description="the URL's scheme, host and port")
    failing_since: AwareDatetime
