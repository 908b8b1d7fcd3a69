"""The events service's tables: an event and every kind that belongs to it.

Every row has `created_at` and a soft-delete `deleted_at`; children point at
their event with `event_id`. Link tables join discount codes and access
codes to tickets, and sessions to speakers.
"""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    Table,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

PUBLIC_EVENTS = "state = 'published' AND privacy = 'public' AND deleted_at IS NULL"


class Base(DeclarativeBase):
    pass


class Row:
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Child(Row):
    """A row that belongs to one event."""

    @declared_attr
    def event_id(cls) -> Mapped[int]:
        return mapped_column(BigInteger, ForeignKey("events.id"), index=True)


class Event(Row, Base):
    __tablename__ = "events"
    __table_args__ = (
        # list_public_events: the published public live events in order, and
        # those whose name contains `q` (trigrams: pg_trgm)
        Index("ix_events_public", "starts_at", "id", postgresql_where=text(PUBLIC_EVENTS)),
        Index("ix_events_public_name", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}, postgresql_where=text(PUBLIC_EVENTS)),
    )

    identifier: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    location_name: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    privacy: Mapped[str] = mapped_column(String(16), default="public")
    owner_id: Mapped[int] = mapped_column(BigInteger)
    logo_url: Mapped[str | None] = mapped_column(Text)
    original_image_url: Mapped[str | None] = mapped_column(Text)
    large_image_url: Mapped[str | None] = mapped_column(Text)
    thumbnail_image_url: Mapped[str | None] = mapped_column(Text)
    icon_image_url: Mapped[str | None] = mapped_column(Text)
    copied_from_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("events.id"))
    # the newest media.changed version applied (services.events.media_urls)
    media_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # the newest event.visibility_changed announced (services.events.events)
    visibility_version: Mapped[int] = mapped_column(BigInteger, server_default="0")


class Track(Child, Base):
    __tablename__ = "tracks"

    name: Mapped[str] = mapped_column(String(255))
    color: Mapped[str] = mapped_column(String(7))
    description: Mapped[str | None] = mapped_column(Text)


class Microlocation(Child, Base):
    __tablename__ = "microlocations"

    name: Mapped[str] = mapped_column(String(255))
    floor: Mapped[int | None]
    room: Mapped[str | None] = mapped_column(String(255))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]


class Sponsor(Child, Base):
    __tablename__ = "sponsors"

    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int | None]
    type: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    logo_url: Mapped[str | None] = mapped_column(Text)


class Ticket(Child, Base):
    __tablename__ = "tickets"

    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    quantity: Mapped[int | None]
    sales_starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sales_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    description: Mapped[str | None] = mapped_column(Text)


class Tax(Child, Base):
    __tablename__ = "taxes"

    name: Mapped[str] = mapped_column(String(255))
    rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    tax_id: Mapped[str | None] = mapped_column(String(255))
    is_tax_included_in_price: Mapped[bool] = mapped_column(default=False)


class SocialLink(Child, Base):
    __tablename__ = "social_links"

    name: Mapped[str] = mapped_column(String(255))
    link: Mapped[str] = mapped_column(Text)


class SpeakersCall(Child, Base):
    __tablename__ = "speakers_calls"

    announcement: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    privacy: Mapped[str | None] = mapped_column(String(16))


discount_code_tickets = Table(
    "discount_code_tickets",
    Base.metadata,
    Column("discount_code_id", ForeignKey("discount_codes.id"), primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id"), primary_key=True, index=True),
)


class DiscountCode(Child, Base):
    __tablename__ = "discount_codes"

    code: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    tickets_number: Mapped[int | None]
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_till: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CustomForm(Child, Base):
    __tablename__ = "custom_forms"

    form: Mapped[str] = mapped_column(String(16))
    field_identifier: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    is_required: Mapped[bool] = mapped_column(default=False)
    is_included: Mapped[bool] = mapped_column(default=False)


class SessionType(Child, Base):
    __tablename__ = "session_types"

    name: Mapped[str] = mapped_column(String(255))
    length: Mapped[str | None] = mapped_column(String(5))


session_speakers = Table(
    "session_speakers",
    Base.metadata,
    Column("session_id", ForeignKey("sessions.id"), primary_key=True),
    Column("speaker_id", ForeignKey("speakers.id"), primary_key=True, index=True),
)


class Session(Child, Base):
    __tablename__ = "sessions"

    title: Mapped[str] = mapped_column(String(255))
    track_id: Mapped[int | None] = mapped_column(ForeignKey("tracks.id"), index=True)
    microlocation_id: Mapped[int | None] = mapped_column(
        ForeignKey("microlocations.id"), index=True
    )
    session_type_id: Mapped[int | None] = mapped_column(ForeignKey("session_types.id"), index=True)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str | None] = mapped_column(String(16))


class Speaker(Child, Base):
    __tablename__ = "speakers"

    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    bio: Mapped[str | None] = mapped_column(Text)
    organisation: Mapped[str | None] = mapped_column(String(255))


class Order(Child, Base):
    __tablename__ = "orders"

    status: Mapped[str] = mapped_column(String(16), default="initializing")
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    buyer_email: Mapped[str | None] = mapped_column(String(255))


class Attendee(Child, Base):
    __tablename__ = "attendees"

    firstname: Mapped[str] = mapped_column(String(255))
    lastname: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    checked_in: Mapped[bool] = mapped_column(default=False, server_default=false())
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


access_code_tickets = Table(
    "access_code_tickets",
    Base.metadata,
    Column("access_code_id", ForeignKey("access_codes.id"), primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id"), primary_key=True, index=True),
)


class AccessCode(Child, Base):
    __tablename__ = "access_codes"

    code: Mapped[str] = mapped_column(String(255))
    tickets_number: Mapped[int | None]
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_till: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CopyRequest(Base):
    """An idempotent copy: the first result of (actor, key) is the answer."""

    __tablename__ = "copy_requests"

    actor_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    source_event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

