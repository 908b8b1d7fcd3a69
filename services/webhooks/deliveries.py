"""Deliveries: what each endpoint is to receive, and the record of each try.

- `record`: each message of a batch becomes one delivery per enabled
  webhook of each event it concerns that asked for its type (`webhook-id`
  = the message's id; a message seen again adds nothing), in the batch's
  order, and wakes the delivery loops (`NOTIFY`, sent on commit).
- `claim`: the due deliveries, leased for one sender each. Only the
  oldest pending delivery of a webhook is ever due, so one webhook's
  deliveries go out one at a time, in order, and a later one waits while
  an earlier one is retried. `FOR UPDATE SKIP LOCKED` lets many loops
  claim side by side; a lease that lapses (its process died mid-post)
  makes the delivery due again: at least once.
- `finish`: the attempt recorded; a 2xx ends the delivery, a failure
  schedules the next try (`WEBHOOK_RETRY_DELAYS`, with jitter) or, past the
  last, fails it. An endpoint that has failed every delivery for
  `WEBHOOK_DISABLE_AFTER` is disabled and `webhook.disabled` published.
"""
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, insert, select, text

from contracts.events.messages import EventCopied
from contracts.webhooks.errors import DeliveryNotFound, InvalidWebhookData
from contracts.webhooks.messages import WebhookDisabled
from contracts.webhooks.schemas import PING
from services.webhooks.models import Attempt, Delivery, Webhook
from shared import outbox
from shared.validation import page

CHANNEL = "deliveries"
JITTER = 0.2
# each enabled webhook's oldest pending delivery (an index probe a webhook),
# if it is due and not leased; the conditions are checked again on the row locked
CLAIM = text("""
UPDATE deliveries SET leased_until = now() + make_interval(secs => :lease)
WHERE id IN (
    SELECT id FROM deliveries
    WHERE id IN (SELECT head.id FROM webhooks w CROSS JOIN LATERAL (
                     SELECT id FROM deliveries WHERE webhook_id = w.id AND status = 'pending'
                     ORDER BY id LIMIT 1) head
                 WHERE w.enabled)
      AND status = 'pending' AND next_attempt_at <= now()
      AND (leased_until IS NULL OR leased_until < now())
    ORDER BY next_attempt_at LIMIT :limit
    FOR UPDATE SKIP LOCKED)
RETURNING id
""")


@dataclass(frozen=True)
class Due:
    """A claimed delivery, with what posting it takes."""

    id: int
    webhook_id: int
    url: str
    secret: str
    message_id: str
    type: str
    occurred_at: datetime
    data: dict


def event_ids(message):
    """The events a message concerns: the one it names; a copy's source too."""
    ids = {message.event_id}
    if isinstance(message, EventCopied):
        ids.add(message.source_event_id)
    return ids


def record(session, messages):
    """A delivery of each of `messages` to each webhook that asked for it,
    in the order of `messages` (so each webhook's deliveries go out so)."""
    concerned = {message.message_id: event_ids(message) for message in messages}
    webhooks = session.execute(select(Webhook.id, Webhook.event_id, Webhook.events).where(
        Webhook.event_id.in_(set().union(*concerned.values())), Webhook.enabled,
        Webhook.events.overlap(list({message.event_type for message in messages})))).all()
    rows = [{"webhook_id": webhook.id, "message_id": message.message_id,
             "type": message.event_type, "occurred_at": message.occurred_at,
             "data": message.to_payload(), "status": "pending"}
            for message in messages for webhook in webhooks
            if webhook.event_id in concerned[message.message_id]
            and message.event_type in webhook.events]
    if rows:
        session.execute(insert(Delivery), rows)
        _wake(session)


def ping(session, webhook):
    """A `webhook.ping` delivery to `webhook`, behind its others."""
    now = datetime.now(UTC)
    delivery = Delivery(webhook_id=webhook.id, message_id=uuid.uuid4(), type=PING,
                        occurred_at=now, data={"webhook_id": webhook.id,
                                               "event_id": webhook.event_id},
                        status="pending", failures=0)
    session.add(delivery)
    session.flush()
    _wake(session)
    return serialize(delivery, [])


def claim(session, limit, lease_seconds):
    """Up to `limit` due deliveries, leased for `lease_seconds`."""
    ids = session.scalars(CLAIM, {"limit": limit, "lease": lease_seconds}).all()
    rows = session.execute(select(Delivery, Webhook.url, Webhook.secret)
                           .join(Webhook, Webhook.id == Delivery.webhook_id)
                           .where(Delivery.id.in_(ids)).order_by(Delivery.id))
    return [Due(d.id, d.webhook_id, url, secret, str(d.message_id), d.type, d.occurred_at,
                d.data) for d, url, secret in rows]


def finish(session, delivery_id, outcome, settings):
    """Record `outcome` (a `sending.Outcome`) of the delivery's attempt."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending":
        return  # deleted with its webhook meanwhile, or retried by hand and done
    number = 1 + session.scalar(select(func.count()).where(Attempt.delivery_id == delivery_id))
    session.add(Attempt(delivery_id=delivery_id, number=number, started_at=outcome.started_at,
                        duration_ms=outcome.duration_ms, status_code=outcome.status_code,
                        error=outcome.error))
    delivery.leased_until = None
    webhook = session.get(Webhook, delivery.webhook_id, with_for_update=True)
    if outcome.succeeded:
        delivery.status, delivery.next_attempt_at = "succeeded", None
        webhook.failing_since = None
    else:
        _failed(session, delivery, webhook, outcome, settings)
    _wake(session)  # the webhook's next delivery is due, and a sender is free


def _failed(session, delivery, webhook, outcome, settings):
    delays = settings.WEBHOOK_RETRY_DELAYS
    delivery.failures += 1
    if delivery.failures > len(delays):
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        delay = delays[delivery.failures - 1] * random.uniform(1 - JITTER, 1 + JITTER)
        delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)
    if delivery.type == PING:
        return  # a ping tells the organizer; it does not count against the endpoint
    webhook.failing_since = webhook.failing_since or outcome.started_at
    failing_for = (datetime.now(UTC) - webhook.failing_since).total_seconds()
    if webhook.enabled and failing_for >= settings.WEBHOOK_DISABLE_AFTER:
        webhook.enabled = False
        webhook.disabled_reason = f"every delivery failed for {failing_for / 3600:.0f} hours"
        parts = urlsplit(webhook.url)
        outbox.add(session, WebhookDisabled(
            webhook_id=webhook.id, event_id=webhook.event_id,
            origin=f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}",
            failing_since=webhook.failing_since))


def retry(session, webhook, delivery_id):
    """The delivery due again now, with a fresh schedule."""
    delivery = session.scalar(select(Delivery).where(
        Delivery.id == delivery_id, Delivery.webhook_id == webhook.id).with_for_update())
    if delivery is None:
        raise DeliveryNotFound(f"webhook {webhook.id} has no delivery {delivery_id}")
    delivery.status, delivery.failures = "pending", 0
    delivery.next_attempt_at, delivery.leased_until = func.now(), None
    session.flush()
    _wake(session)
    return serialize(delivery, _attempts(session, [delivery.id]).get(delivery.id, []))


def list_deliveries(session, webhook, limit=None, offset=None):
    window = page(limit, offset, InvalidWebhookData)
    query = select(Delivery).where(Delivery.webhook_id == webhook.id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Delivery.id.desc()).limit(window.limit)
                           .offset(window.offset)).all()
    attempts = _attempts(session, [row.id for row in rows])
    return {"items": [serialize(row, attempts.get(row.id, [])) for row in rows],
            "total": total, "limit": window.limit, "offset": window.offset}


def _attempts(session, delivery_ids):
    found = {}
    for attempt in session.scalars(select(Attempt).where(Attempt.delivery_id.in_(delivery_ids))
                                   .order_by(Attempt.number)):
        found.setdefault(attempt.delivery_id, []).append({
            "number": attempt.number, "started_at": attempt.started_at.isoformat(),
            "duration_ms": attempt.duration_ms, "status_code": attempt.status_code,
            "error": attempt.error})
    return found


def serialize(delivery, attempts):
    return {
        "id": delivery.id, "webhook_id": delivery.webhook_id,
        "message_id": str(delivery.message_id), "type": delivery.type,
        "status": delivery.status,
        "next_attempt_at": delivery.next_attempt_at and delivery.next_attempt_at.isoformat(),
        "created_at": delivery.created_at.isoformat(), "attempts": attempts,
    }


def _wake(session):
    session.execute(text(f"NOTIFY {CHANNEL}"))


