"""Transactional outbox: an outgoing message is a row written in the same
transaction as the change it announces, so it exists iff the change commits.

`OutboxRelay` publishes the rows; `NOTIFY` (delivered by PostgreSQL only on
commit) wakes it at once, so a committed message goes out within
milliseconds.
"""
from sqlalchemy import insert, text

from shared.tables import outbox

CHANNEL = "outbox"


def add(session, message, headers=None):
    """Record `message` (a `shared.messages.Message`) for publication when
    `session`'s transaction commits."""
    session.execute(
        insert(outbox).values(
            message_id=message.message_id,
            event_type=message.event_type,
            payload=message.to_payload(),
            headers=headers or {},
        )
    )
    session.execute(text(f"NOTIFY {CHANNEL}"))
