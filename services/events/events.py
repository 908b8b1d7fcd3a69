"""Events: find by id or identifier, create, read, list, update, soft
delete."""
import secrets

from psycopg2.errors import UniqueViolation
from sqlalchemy import BigInteger, any_, bindparam, exists, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from contracts.errors import EventNotFound
from contracts.events.errors import InvalidEventData
from contracts.events.messages import EventCreated, EventDeleted, EventVisibilityChanged
from contracts.events.schemas import EventIn, EventUpdate
from services.events.models import Event
from services.events.rows import apply, paged, serialize_row, updated_values
from services.events.schemas import EventFilter, EventSearch, validate
from shared import outbox
from shared.ids import as_id
from shared.readcache import LISTING, event_version, stale
from shared.validation import page

IDENTIFIER_ATTEMPTS = 5


def find_event(session, ref, lock=None):
    """The live event whose id or identifier is `ref` (an int, or a str of
    digits for an id, or an 8-hex identifier); `lock` "share" or "update"
    takes that row lock."""
    query = select(Event).where(Event.deleted_at.is_(None))
    event_id = as_id(ref)
    if event_id is not None:
        query = query.where(Event.id == event_id)
    elif isinstance(ref, str) and len(ref) == 8:
        query = query.where(Event.identifier == ref)
    else:
        raise EventNotFound(f"no event {ref!r}")
    if lock:
        query = query.with_for_update(read=lock == "share")
    event = session.scalars(query).first()
    if event is None:
        raise EventNotFound(f"no event {ref!r}")
    return event


def find_event_id(session, ref):
    """The id of the live event `ref`: what its changes are authorized on."""
    return find_event(session, ref).id


def new_identifier(session):
    """A fresh identifier: 8 hex digits, never all digits (so it never reads
    as an id), used by no event yet. Only the unique constraint makes it
    safe against a concurrent insert: see `create_event`."""
    while True:
        candidate = secrets.token_hex(4)
        if not candidate.isdigit() and not _identifier_taken(session, candidate):
            return candidate


def _identifier_taken(session, identifier):
    return session.scalar(select(exists().where(Event.identifier == identifier)))


def create_event(session, actor_id, data):
    """Create an event owned by `actor_id` and announce `event.created`
    (and `event.visibility_changed` if it is public from the start)."""
    owner_id = user_id(actor_id)
    values = validate(EventIn, data, "event")
    event = _insert_with_fresh_identifier(session, owner_id=owner_id, **values)
    outbox.add(session, EventCreated(
        event_id=event.id, identifier=event.identifier, owner_id=owner_id
    ))
    _announce_visibility(session, event, was_public=False)
    stale(session, LISTING)
    return serialize_event(event)


def _insert_with_fresh_identifier(session, **values):
    """Insert the event in a savepoint; should a concurrent insert take its
    identifier first, roll back to the savepoint and try another."""
    for attempt in range(1, IDENTIFIER_ATTEMPTS + 1):
        event = Event(identifier=new_identifier(session), **values)
        try:
            with session.begin_nested():
                session.add(event)
            return event
        except IntegrityError as exc:
            if not isinstance(exc.orig, UniqueViolation) or attempt == IDENTIFIER_ATTEMPTS:
                raise


def user_id(actor_id):
    """The acting user's id, which callers pass as an int."""
    if not isinstance(actor_id, int) or as_id(actor_id) is None:
        raise InvalidEventData(f"actor_id must be a user id, not {actor_id!r}")
    return actor_id


def get_event(session, ref):
    return serialize_event(find_event(session, ref))


def list_events(session, event_ids, state=None, q=None, limit=50, offset=0):
    """`{items, total, limit, offset}`: the live events among `event_ids`,
    of `state` if given, whose name contains `q` if given. The ids travel
    as one array parameter (`id = ANY(:event_ids)`), however many."""
    asked = validate(EventFilter, {"event_ids": event_ids, "state": state, "q": q}, "event list")
    window = page(limit, offset, InvalidEventData)
    ids = bindparam("event_ids", asked["event_ids"], type_=ARRAY(BigInteger))
    conditions = [Event.id == any_(ids)]
    if asked["state"] is not None:
        conditions.append(Event.state == asked["state"])
    return _listed(session, conditions, asked["q"], window)


def list_public_events(session, q=None, limit=50, offset=0):
    """`{items, total, limit, offset}`: the live published public events
    whose name contains `q` if given (served by the partial indexes
    `ix_events_public` and, for `q`, `ix_events_public_name`)."""
    asked = validate(EventSearch, {"q": q}, "event search")
    window = page(limit, offset, InvalidEventData)
    return _listed(session, [Event.state == "published", Event.privacy == "public"],
                   asked["q"], window)


def _listed(session, conditions, q, window):
    """The page of live events that meet `conditions` and whose name
    contains `q` (case-insensitively, `%` and `_` as themselves), by
    `starts_at` then id, each as `get_event` answers it."""
    if q:
        conditions = [*conditions, Event.name.icontains(q, autoescape=True)]
    live = select(Event).where(Event.deleted_at.is_(None), *conditions)
    listed = paged(session, live, window, Event.starts_at, Event.id)
    return {**listed, "items": [serialize_event(event) for event in listed["items"]]}


def update_event(session, ref, actor_id, data):
    """Apply the fields sent in `data`; the others stay as they are.
    Announce `event.visibility_changed` if the event became public or
    stopped being so."""
    event = find_event(session, ref, lock="update")
    was_public = is_public(event)
    apply(event, updated_values(event, EventIn, EventUpdate, data, "event"))
    _announce_visibility(session, event, was_public)
    session.flush()
    changed(session, event.id)
    return serialize_event(event)


def is_public(event):
    """Published and public: anyone may see it (`PUBLIC_EVENTS` in SQL)."""
    return event.state == "published" and event.privacy == "public"


def _announce_visibility(session, event, was_public):
    """Number and announce the change if `event` (locked, or new) is public
    and was not, or the other way round. The row lock orders the numbers as
    the commits."""
    if is_public(event) == was_public:
        return
    session.flush()
    event.visibility_version = (event.visibility_version or 0) + 1
    outbox.add(session, EventVisibilityChanged(
        event_id=event.id, public=is_public(event), visibility_version=event.visibility_version))


def delete_event(session, ref, actor_id):
    """Soft delete the event (its children go with it) and announce
    `event.deleted`."""
    event = find_event(session, ref, lock="update")
    event.deleted_at = func.now()
    outbox.add(session, EventDeleted(event_id=event.id, identifier=event.identifier))
    changed(session, event.id)
    return {"id": event.id, "identifier": event.identifier, "deleted": True}


def changed(session, event_id, listed=True):
    """Mark the gateway's cached reads of the event stale once this
    transaction commits (`shared.readcache`): its own, its children's and,
    when the change shows in a list of events (`listed`), the lists'."""
    stale(session, event_version(event_id), *([LISTING] if listed else []))


def serialize_event(event):
    return serialize_row(event)
