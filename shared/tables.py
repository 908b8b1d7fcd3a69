"""Tables every service database has besides its own: the outbox of
messages to publish and the inbox of messages already handled. Each
service's alembic environment migrates `metadata` with its own models."""
from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("message_id", Uuid, nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("headers", JSONB, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

inbox = Table(
    "inbox",
    metadata,
    Column("message_id", Uuid, primary_key=True),
    Column("consumer", String(200), primary_key=True),
    Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
