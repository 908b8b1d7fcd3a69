"""An event's webhooks: create (with a new secret, answered this once),
read, change, delete. The caller has authorized the actor on the event."""
import base64
import secrets

from sqlalchemy import func, select

from contracts.webhooks.errors import InvalidWebhookData, WebhookNotFound
from contracts.webhooks.schemas import WebhookIn, WebhookUpdate
from services.webhooks.models import Webhook
from shared.validation import page, validate

SECRET_BYTES = 32


def new_secret():
    """A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def create(session, event_id, data, check_url):
    values = validate(WebhookIn, data, InvalidWebhookData, "webhook")
    check_url(values["url"])
    webhook = Webhook(event_id=event_id, secret=new_secret(), enabled=True, **values)
    session.add(webhook)
    session.flush()
    return {**serialize(webhook), "secret": webhook.secret}


def list_webhooks(session, event_id, limit=None, offset=None):
    window = page(limit, offset, InvalidWebhookData)
    query = select(Webhook).where(Webhook.event_id == event_id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Webhook.id).limit(window.limit)
                           .offset(window.offset))
    return {"items": [serialize(row) for row in rows], "total": total,
            "limit": window.limit, "offset": window.offset}


def update(session, event_id, webhook_id, data, check_url):
    changes = validate(WebhookUpdate, data, InvalidWebhookData, "webhook", sent_only=True)
    webhook = find(session, event_id, webhook_id, lock=True)
    if "url" in changes:
        check_url(changes["url"])
    if changes.get("enabled") and not webhook.enabled:
        webhook.failing_since = webhook.disabled_reason = None
    for name, value in changes.items():
        setattr(webhook, name, value)
    session.flush()
    return serialize(webhook)


def delete(session, event_id, webhook_id):
    session.delete(find(session, event_id, webhook_id))


def find(session, event_id, webhook_id, lock=False):
    query = select(Webhook).where(Webhook.id == webhook_id, Webhook.event_id == event_id)
    webhook = session.scalar(query.with_for_update() if lock else query)
    if webhook is None:
        raise WebhookNotFound(f"event {event_id} has no webhook {webhook_id}")
    return webhook


def serialize(webhook):
    return {
        "id": webhook.id, "event_id": webhook.event_id, "url": webhook.url,
        "events": list(webhook.events), "description": webhook.description,
        "enabled": webhook.enabled,
        "failing_since": webhook.failing_since and webhook.failing_since.isoformat(),
        "disabled_reason": webhook.disabled_reason,
        "created_at": webhook.created_at.isoformat(),
    }
