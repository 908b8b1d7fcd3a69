"""The roles service's tables: users, their sign-ins and mailed link
tokens, the roles they hold on events, role invites, and the events this
service has heard of.

`known_events` mirrors the events service's events (from `event.created`
and `event.copied`): a row exists once the event's first team is in place,
which is what read-your-writes waits for.
"""
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

INVITE_STATUSES = ("pending", "accepted", "declined", "expired")
LINK_PURPOSES = ("verify_email", "password_reset")


class Base(DeclarativeBase):
    pass


def _created_at():
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised, lower case
    password_hash: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _created_at()
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # when a verification or reset mail was last asked for (one a minute)
    verification_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_reset_requested_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True))

    __table_args__ = (CheckConstraint("email = lower(email)", name="email_is_lower_case"),)


class Session(Base):
    """A sign-in: a bearer token names it (`sid`) and is good while the
    session is neither ended nor expired."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LinkToken(Base):
    """A mailed link's token (only its SHA-256 is kept): single use,
    expiring, and superseded by the next one of its user and purpose.
    `email`: the address a verification link was minted for."""

    __tablename__ = "link_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"purpose IN {LINK_PURPOSES}", name="known_purpose"),
        Index("link_tokens_by_user", "user_id", "purpose"),
    )


class Role(Base):
    """Seeded by the migration; `rank` 1 is the strongest."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(SmallInteger, unique=True)


class KnownEvent(Base):
    __tablename__ = "known_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the events service's id
    identifier: Mapped[str] = mapped_column(String(8))
    copied_from_id: Mapped[int | None] = mapped_column(BigInteger)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    known_at: Mapped[datetime] = _created_at()

    __table_args__ = (
        # "my events" leaves the deleted ones out through it (migration 0004)
        Index("deleted_known_events", "id", postgresql_where=text("deleted_at IS NOT NULL")),
    )


class EventRole(Base):
    """A user's role on an event: one row per (user, event, role), and one
    owner per event."""

    __tablename__ = "users_events_roles"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("known_events.id"), index=True)
    role: Mapped[str] = mapped_column(String(32), ForeignKey("roles.name"))
    created_at: Mapped[datetime] = _created_at()

    __table_args__ = (
        UniqueConstraint("user_id", "event_id", "role", name="one_row_per_user_event_role"),
        Index("one_owner_per_event", "event_id", unique=True,
              postgresql_where=text("role = 'owner'")),
    )


class RoleInvite(Base):
    """An invitation of an email to a role on an event. Only the SHA-256 of
    its token is stored (a new link replaces it); a pending invite past
    `expires_at` is expired. `granted_at`: when its acceptance granted the
    role, which happens once. `event_name`: the event's name when invited."""

    __tablename__ = "role_invites"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("known_events.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(32), ForeignKey("roles.name"))
    event_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created_at()
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    granted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"status IN {INVITE_STATUSES}", name="known_status"),
        Index("one_pending_invite_per_email_and_event", "event_id", "email", unique=True,
              postgresql_where=text("status = 'pending'")),
        Index("role_invites_by_email", "email"),
    )
