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


def apply_each_once(unit_of_work, service, messages, effect):
    """`apply_once` for a batch of one handler's messages (in delivery order):
    one transaction records every delivery and runs `effect(session, firsts)`
    with those `service` has not handled before, in that order."""
    consumer = _consumer(service, messages[0])
    with unit_of_work.transaction() as session:
        new = first_deliveries(session, messages, consumer)
        firsts = []
        for message in messages:
            if message.message_id in new:  # twice in the batch: the first copy only
                new.remove(message.message_id)
                firsts.append(message)
        if firsts:
            effect(session, firsts)
    if len(firsts) < len(messages):
        current().inbox_duplicates.labels(consumer).inc(len(messages) - len(firsts))


def first_deliveries(session, messages, consumer):
    """The ids of `messages` that `consumer` sees for the first time (and
    records). The rows go in in id order: two batches that share messages
    lock them in one order, never in a deadlock."""
    ids = sorted({message.message_id for message in messages})
    return set(session.scalars(
        RECORD_DELIVERY, [{"message_id": id_, "consumer": consumer} for id_ in ids]))


def handled(session, service, message):
    """Whether `service` has handled (and committed) `message`."""
    return session.scalar(select(exists().where(
        inbox.c.message_id == message.message_id,
        inbox.c.consumer == _consumer(service, message),
    )))


def _consumer(service, message):
    return f"{service}.{message.event_type}"
