"""The media service's tables: blobs (the stored bytes, by SHA-256) and
media records (an image of an event or a sponsor, in one slot, pointing at
a blob). Many records may share one blob; each record has its own
unguessable public key, which is its URL. Replacing or deleting an image
retires its record (`deleted_at`): its key stops serving at once. The
copies made (`event_copies`) keep each event from being copied twice.

What this service knows of events from the events service's messages:
which are public (`event_visibility`) and which events and sponsors are
deleted (`deleted_owners`), whose media stay retired
(services/media/lifecycle.py). Each run of the garbage collector leaves a
row (`gc_runs`), which the service's metrics count."""
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.vocabulary import IMAGE_SLOTS

OWNER_KINDS = ("event", "sponsor")
SLOTS = IMAGE_SLOTS
GC_OUTCOMES = ("success", "error")


class Base(DeclarativeBase):
    pass


class Blob(Base):
    __tablename__ = "blobs"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class EventMediaVersion(Base):
    """The number of the newest change of an event's media. A change takes
    the row's lock for its transaction, so changes of one event take turns
    and their versions follow their commit order."""

    __tablename__ = "event_media_versions"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class EventCopy(Base):
    """A copied event whose media this service copied: each event once."""

    __tablename__ = "event_copies"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_event_id: Mapped[int] = mapped_column(BigInteger)
    copied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                server_default=func.now())


class EventVisibility(Base):
    """Whether an event is published and public, as its newest
    `event.visibility_changed` says; an event without a row is not."""

    __tablename__ = "event_visibility"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public: Mapped[bool] = mapped_column(Boolean)
    visibility_version: Mapped[int] = mapped_column(BigInteger)


class DeletedOwner(Base):
    """An event or a sponsor the events service deleted: its media are
    retired and it takes no new ones."""

    __tablename__ = "deleted_owners"

    owner_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class Media(Base):
    __tablename__ = "media"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    owner_kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int] = mapped_column(BigInteger)  # the event's or the sponsor's id
    slot: Mapped[str] = mapped_column(String(16))
    blob_key: Mapped[str] = mapped_column(String(64), ForeignKey("blobs.key"), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"owner_kind IN {OWNER_KINDS}", name="known_owner_kind"),
        CheckConstraint(f"slot IN {SLOTS}", name="known_slot"),
        Index("one_live_record_per_owner_slot", "owner_kind", "owner_id", "slot", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
    )


class GcRun(Base):
    """A run of the garbage collector (services/media/gc.py), however it
    ended, and what it removed; the service's metrics count them."""

    __tablename__ = "gc_runs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
    outcome: Mapped[str] = mapped_column(String(16))
    records: Mapped[int] = mapped_column(BigInteger)
    blobs: Mapped[int] = mapped_column(BigInteger)
    stray_files: Mapped[int] = mapped_column(BigInteger)
    freed_bytes: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint(f"outcome IN {GC_OUTCOMES}", name="known_outcome"),)
