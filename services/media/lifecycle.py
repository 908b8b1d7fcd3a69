"""Media after the events service changes their owners: a deleted event or
sponsor loses its media, and only a public event's images may be kept by
shared caches.

- `event.deleted`: every live record of the event and of its sponsors is
  retired (their URLs stop serving at once); `gc` frees the bytes no live
  record shares once the grace period is over.
- `sponsor.deleted`: the sponsor's logo is retired, announced with
  `media.changed` like any change of the event's media.
- `event.visibility_changed`: whether the event is published and public,
  the newest version kept; `cache_control` answers from it.

A deleted owner is recorded (`deleted_owners`), so nothing adds media to it
afterwards: not an upload the events service let through just before the
deletion, nor a copy made from a message that arrives after it. Each
handler takes the event's media lock first (`media.lock_event_media`), as
every change of the event's media does (`media.next_version`), so they
take turns.
"""
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from contracts.errors import EventNotFound
from contracts.media.errors import SponsorNotFound
from services.media.media import Owner, announce_change, lock_event_media, next_version, retire
from services.media.models import DeletedOwner, EventVisibility, Media
from shared.messages import ForgedMessage

PUBLIC = "public, max-age=31536000, immutable"  # a key's bytes never change
PRIVATE = "private, no-cache"  # no shared cache; a browser revalidates (ETag) on each use


def on_event_deleted(session, message):
    """Retire the media of the deleted event and of its sponsors.

    Checked: nothing this service holds could contradict it (it knows
    events by id only). Believed on the sender's word: that the event is
    deleted. A replay retires nothing more: deleted stays deleted.
    """
    lock_event_media(session, message.event_id)
    _record_deleted(session, Owner(message.event_id, "event", message.event_id))
    session.execute(
        update(Media).where(Media.event_id == message.event_id, Media.deleted_at.is_(None))
        .values(deleted_at=func.now()))


def on_sponsor_deleted(session, message, base_url):
    """Retire the deleted sponsor's logo; announce the change if it had one.

    Checked: every record of the sponsor this service holds, live or
    retired, is of the event the message names (else ForgedMessage: it
    would announce another event's media). Believed: that the sponsor is
    deleted. A replay retires nothing more.
    """
    stray = session.scalar(select(Media.event_id).where(
        Media.owner_kind == "sponsor", Media.owner_id == message.sponsor_id,
        Media.event_id != message.event_id).limit(1))
    if stray is not None:
        raise ForgedMessage(f"sponsor {message.sponsor_id} is of event {stray},"
                            f" not {message.event_id}")
    lock_event_media(session, message.event_id)
    owner = Owner(message.event_id, "sponsor", message.sponsor_id)
    _record_deleted(session, owner)
    if retire(session, owner, ["logo"]):
        announce_change(session, message.event_id, next_version(session, message.event_id),
                        base_url)


def on_visibility_changed(session, message):
    """Keep whether the event is public, unless a newer version is kept.

    Checked: the version is newer than the one kept (an older or a
    replayed message changes nothing). Believed: the visibility itself; a
    forged `public` would let caches keep a private event's images, which
    only the broker's sender check prevents.
    """
    values = {"public": message.public, "visibility_version": message.visibility_version}
    session.execute(
        insert(EventVisibility).values(event_id=message.event_id, **values)
        .on_conflict_do_update(
            index_elements=[EventVisibility.event_id], set_=values,
            where=EventVisibility.visibility_version < message.visibility_version))


def cache_control(session, event_id):
    """How long caches may keep the event's media: a year, anywhere, if it
    is published and public; else only in the browser, revalidated."""
    public = session.scalar(select(EventVisibility.public)
                            .where(EventVisibility.event_id == event_id))
    return PUBLIC if public else PRIVATE


def require_live(session, owner):
    """EventNotFound or SponsorNotFound if the owner or its event is deleted;
    call it under the event's media lock."""
    deleted = session.scalar(select(DeletedOwner.owner_kind).where(or_(
        (DeletedOwner.owner_kind == "event") & (DeletedOwner.owner_id == owner.event_id),
        (DeletedOwner.owner_kind == owner.kind) & (DeletedOwner.owner_id == owner.id),
    )).limit(1))
    if deleted == "event":
        raise EventNotFound(f"no event {owner.event_id!r}")
    if deleted is not None:
        raise SponsorNotFound(f"no sponsor {owner.id!r}")


def _record_deleted(session, owner):
    session.execute(insert(DeletedOwner).values(
        owner_kind=owner.kind, owner_id=owner.id, event_id=owner.event_id
    ).on_conflict_do_nothing())
