"""Media records: retire an owner's images, add new ones, find one by its
public key, list an event's current media with their URLs.

An owner is an event or a sponsor (`Owner`). A blob's bytes are written
inside the record's transaction, holding the blob's lock (`lock_blob`), which
the garbage collector (`gc`) takes too: it never removes a blob that a new
record is about to use.
"""
import secrets
from dataclasses import dataclass

from eventlet import tpool
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from contracts.media.errors import MediaNotFound
from contracts.media.messages import MediaChanged
from contracts.media.urls import KEY, media_url
from contracts.vocabulary import EVENT_IMAGE_FIELDS
from services.media.models import Blob, EventMediaVersion, Media
from services.media.storage import blob_key
from shared import outbox


@dataclass(frozen=True)
class Owner:
    event_id: int
    kind: str  # "event" or "sponsor"
    id: int


def new_public_key():
    """64 hex digits from `secrets`; a copy's keys (copies.py) are drawn in
    SQL in the same shape, from two random UUIDs (244 random bits)."""
    return secrets.token_hex(32)


def next_version(session, event_id):
    """Take the event's media lock and number this change; call it first."""
    return session.scalar(
        insert(EventMediaVersion).values(event_id=event_id, version=1)
        .on_conflict_do_update(index_elements=[EventMediaVersion.event_id],
                               set_={"version": EventMediaVersion.version + 1})
        .returning(EventMediaVersion.version)
    )


def lock_event_media(session, event_id):
    """Take the event's media lock without numbering a change."""
    session.execute(
        insert(EventMediaVersion).values(event_id=event_id, version=0)
        .on_conflict_do_update(index_elements=[EventMediaVersion.event_id],
                               set_={"version": EventMediaVersion.version})
    )


def announce_change(session, event_id, version, base_url):
    """Put `media.changed`, with the event's media as they are now, in the
    outbox; the message."""
    current = event_media(session, event_id, base_url)
    changed = MediaChanged(event_id=event_id, media_version=version,
                           event_urls=current["event_urls"], sponsor_urls=current["sponsor_urls"])
    outbox.add(session, changed)
    return changed


def add(session, store, owner, images):
    """New live records of `owner` for `images` (slot → images.Image), whose
    slots the caller has retired; the records, by slot."""
    return {slot: _record(session, store, owner, slot, image) for slot, image in images.items()}


def retire(session, owner, slots):
    """Retire the owner's live records in `slots`; how many there were."""
    return session.execute(
        update(Media)
        .where(Media.owner_kind == owner.kind, Media.owner_id == owner.id,
               Media.slot.in_(list(slots)), Media.deleted_at.is_(None))
        .values(deleted_at=func.now())
    ).rowcount


def _record(session, store, owner, slot, image):
    key = blob_key(image.data)
    lock_blob(session, key)
    session.execute(insert(Blob).values(key=key, size=len(image.data)).on_conflict_do_nothing())
    if store.blocking:  # file I/O and fsync: off the event loop
        tpool.execute(store.put, image.data)
    else:
        store.put(image.data)
    record = Media(event_id=owner.event_id, owner_kind=owner.kind, owner_id=owner.id, slot=slot,
                   blob_key=key, content_type=image.content_type, size=len(image.data),
                   width=image.width, height=image.height, public_key=new_public_key())
    session.add(record)
    session.flush()
    return record


def lock_blob(session, key):
    """Hold the blob's lock until the transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _lock_id(key)})


def try_lock_blob(session, key):
    return session.scalar(text("SELECT pg_try_advisory_xact_lock(:lock)"),
                          {"lock": _lock_id(key)})


def _lock_id(key):
    return int(key[:15], 16)  # 60 bits of the hash: a bigint advisory lock key


def find_live(session, public_key):
    """The live record with this public key, else MediaNotFound (also for
    anything that is not a well-formed key)."""
    if not isinstance(public_key, str) or not KEY.fullmatch(public_key):
        raise MediaNotFound("no such media")
    record = session.scalars(
        select(Media).where(Media.public_key == public_key, Media.deleted_at.is_(None))
    ).first()
    if record is None:
        raise MediaNotFound("no such media")
    return record


def event_media(session, event_id, base_url):
    """The event's live media: `{event_id, event_urls (field → URL),
    sponsor_urls (sponsor id → URL), media: [records]}`."""
    records = session.scalars(
        select(Media).where(Media.event_id == event_id, Media.deleted_at.is_(None))
        .order_by(Media.id)
    ).all()
    return {
        "event_id": event_id,
        "event_urls": {EVENT_IMAGE_FIELDS[record.slot]: media_url(base_url, record.public_key)
                       for record in records if record.owner_kind == "event"},
        "sponsor_urls": {record.owner_id: media_url(base_url, record.public_key)
                         for record in records if record.owner_kind == "sponsor"},
        "media": [serialize_media(record, base_url) for record in records],
    }


def serialize_media(record, base_url):
    return {"id": record.id, "event_id": record.event_id, "owner_kind": record.owner_kind,
            "owner_id": record.owner_id, "slot": record.slot,
            "url": media_url(base_url, record.public_key), "content_type": record.content_type,
            "size": record.size, "width": record.width, "height": record.height,
            "etag": etag(record.blob_key)}


def etag(blob):
    return f'"{blob}"'
