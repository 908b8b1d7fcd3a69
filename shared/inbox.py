"""Idempotent consumer: a handler records each message id it handles in its
own transaction; a redelivered message finds its id and changes nothing.

Two deliveries of one message racing each other serialise on the primary
key: the second waits for the first transaction and then sees the row (or
takes over if the first rolled back).
"""
from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert

from shared.metrics import current
from shared.tables import inbox

# built once: composing it for every message cost a measurable share of a handler
RECORD_DELIVERY = insert(inbox).on_conflict_do_nothing().returning(inbox.c.message_id)


def first_delivery(session, message, consumer):
    """True the first time `consumer` sees `message` (and records it)."""
    recorded = session.execute(
        RECORD_DELIVERY, {"message_id": message.message_id, "consumer": consumer}
    ).first()
    return recorded is not None


def apply_once(unit_of_work, service, message, effect):
    """Run `effect(session, message)` in one transaction with the record of
    the delivery, unless `service` has already handled `message` (one
    handler per message type and service)."""
    consumer = _consumer(service, message)
    with unit_of_work.transaction() as session:
        if first_delivery(session, message, consumer):
            effect(session, message)
        else:
            current().inbox_duplicates.labels(consumer).inc()


def handled(session, service, message):
    """Whether `service` has handled (and committed) `message`."""
    return session.scalar(select(exists().where(
        inbox.c.message_id == message.message_id,
        inbox.c.consumer == _consumer(service, message),
    )))


def _consumer(service, message):
    return f"{service}.{message.event_type}"
