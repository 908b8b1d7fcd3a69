"""Idempotent consumer: a handler records each message id it handles in its
own transaction; a redelivered message finds its id and changes nothing.

Two deliveries of one message racing each other serialise on the primary
key: the second waits for the first transaction and then sees the row (or
takes over if the first rolled back).
"""
from sqlalchemy.dialects.postgresql import insert

from shared.tables import inbox


def first_delivery(session, message, consumer):
    """True the first time `consumer` sees `message` (and records it)."""
    recorded = session.execute(
        insert(inbox)
        .values(message_id=message.message_id, consumer=consumer)
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    ).first()
    return recorded is not None
