"""Transactional outbox: an outgoing message is a row written in the same
transaction as the change it announces, so it exists iff the change commits.

`OutboxRelay` publishes the rows; `NOTIFY` (delivered by PostgreSQL only on
commit) wakes it at once, so a committed message goes out within
milliseconds.

A row's headers go out with its message. The current request id
(`shared.context`) and trace context (`shared.tracing`) are among them, so
the consuming worker carries them on.
"""
from sqlalchemy import insert, text

from shared import tracing
from shared.context import message_headers
from shared.tables import outbox

CHANNEL = "outbox"


def add(session, message, headers=None):
    """Record `message` (a `shared.messages.Message`) for publication when
    `session`'s transaction commits, with the current request id, the
    current trace context and `headers` (which win) as its AMQP headers."""
    session.execute(
        insert(outbox).values(
            message_id=message.message_id,
            event_type=message.event_type,
            payload=message.to_payload(),
            headers={**message_headers(), **tracing.message_headers(), **(headers or {})},
        )
    )
    session.execute(text(f"NOTIFY {CHANNEL}"))
