"""Events: find by id or identifier, create, read, update, soft delete."""
from sqlalchemy import select

from services.events.exceptions import EventNotFound
from services.events.models import Event


def find_event(session, ref, lock=False):
    """The live event whose id or identifier is `ref` (an int, or a str of
    digits for an id, or an 8-hex identifier)."""
    query = select(Event).where(Event.deleted_at.is_(None))
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        query = query.where(Event.id == int(ref))
    elif isinstance(ref, str):
        query = query.where(Event.identifier == ref)
    else:
        raise EventNotFound(f"no event {ref!r}")
    if lock:
        query = query.with_for_update()
    event = session.scalars(query).first()
    if event is None:
        raise EventNotFound(f"no event {ref!r}")
    return event
