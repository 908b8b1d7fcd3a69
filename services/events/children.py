"""An event's children, every kind through one path: create, list, read,
update, soft delete.

`kind` is a URL segment of `schemas.KINDS`. A child of a deleted event is
gone with it. Ids a child refers to (`track_id`, `ticket_ids`, …) must be
live rows of the same event. The service authorizes `actor_id` on the
child's event (`find_event_id`) before it calls a change here.
"""
from collections import defaultdict
from functools import cache

from sqlalchemy import delete, func, insert, select

from contracts.events.errors import ChildNotFound, InvalidEventData, UnknownKind
from contracts.events.messages import SponsorDeleted
from contracts.powers import CHILD_POWERS
from services.events import public as public_view
from services.events.events import changed, find_event
from services.events.models import Base, Event
from services.events.rows import apply, paged, serialize_row, updated_values
from services.events.schemas import KINDS, validate
from shared import outbox
from shared.ids import as_id
from shared.validation import page


def create_child(session, ref, kind, actor_id, data):
    spec = _spec(kind)
    event = find_event(session, ref)
    values = validate(spec.create, data, kind)
    _check_references(session, spec, kind, event.id, values)
    child = spec.model(event_id=event.id)
    apply(child, values)
    _stamp_check_in(child, values)
    session.add(child)
    session.flush()
    _store_links(session, spec, child.id, values)
    changed(session, event.id, listed=False)
    return _serialize(session, spec, [child])[0]


def list_children(session, ref, kind, limit=50, offset=0, public=False):
    """`{items, total, limit, offset}`: the event's live children, by id;
    `public`: only those in the kind's public view, with its fields (a kind
    without one is refused: InvalidEventData)."""
    spec = _spec(kind)
    conditions = [public_view.shown(kind)] if public_view.is_public(public) else []
    window = page(limit, offset, InvalidEventData)
    event = find_event(session, ref)
    model = spec.model
    live = select(model).where(model.event_id == event.id, model.deleted_at.is_(None),
                               *conditions)
    listed = paged(session, live, window, model.id)
    items = _serialize(session, spec, listed["items"], kind if public else None)
    return {**listed, "items": items}


def get_child(session, kind, child_id, public=False):
    """The live child; `public`: in its kind's public view, else
    ChildNotFound (so is every child of a kind without one)."""
    spec = _spec(kind)
    if not public_view.is_public(public):
        return _serialize(session, spec, [_find_child(session, spec, kind, child_id)])[0]
    if not public_view.has_view(kind):
        raise ChildNotFound(f"no {kind} {child_id!r} in a public view")
    child = _find_child(session, spec, kind, child_id, conditions=[public_view.shown(kind)])
    return _serialize(session, spec, [child], kind)[0]


def update_child(session, kind, child_id, actor_id, data):
    """Apply the fields sent in `data`; a link list sent replaces the old one."""
    spec = _spec(kind)
    child = _find_child(session, spec, kind, child_id, lock=True)
    changes = updated_values(child, spec.create, spec.update, data, kind)
    _check_references(session, spec, kind, child.event_id, changes)
    apply(child, changes)
    _stamp_check_in(child, changes)
    session.flush()
    _store_links(session, spec, child.id, changes)
    changed(session, child.event_id, listed=False)
    return _serialize(session, spec, [child])[0]


def delete_child(session, kind, child_id, actor_id):
    """Soft delete: the row stays, but is found and listed no more. A
    sponsor's deletion is announced (`sponsor.deleted`: its logo retires)."""
    spec = _spec(kind)
    child = _find_child(session, spec, kind, child_id, lock=True)
    child.deleted_at = func.now()
    if kind == "sponsors":
        outbox.add(session, SponsorDeleted(sponsor_id=child.id, event_id=child.event_id))
    changed(session, child.event_id, listed=False)
    return {"id": child.id, "deleted": True}


def powers(kind):
    """Who may do what with the kind's children (`contracts.powers`)."""
    _spec(kind)
    return CHILD_POWERS[kind]


def find_event_id(session, kind, child_id):
    """The id of the event the live child belongs to: what its changes are
    authorized on."""
    return _find_child(session, _spec(kind), kind, child_id).event_id


def _stamp_check_in(child, values):
    """An attendee's `checked_in_at`: when `checked_in` turned true, None
    once it is undone."""
    if "checked_in" in values and values["checked_in"] != (child.checked_in_at is not None):
        child.checked_in_at = func.now() if values["checked_in"] else None


def _spec(kind):
    if not isinstance(kind, str) or kind not in KINDS:
        raise UnknownKind(f"no kind {kind!r}; the kinds are: {', '.join(KINDS)}")
    return KINDS[kind]


def _find_child(session, spec, kind, child_id, lock=False, conditions=()):
    """The live child `child_id` of a live event that meets `conditions`,
    else ChildNotFound."""
    model = spec.model
    query = (
        select(model)
        .join(Event, Event.id == model.event_id)
        .where(model.id == _as_id(child_id, kind), model.deleted_at.is_(None),
               Event.deleted_at.is_(None), *conditions)
    )
    if lock:
        query = query.with_for_update(of=model)
    child = session.scalars(query).first()
    if child is None:
        raise ChildNotFound(f"no {kind} {child_id!r}")
    return child


def _as_id(child_id, kind):
    if as_id(child_id) is None:
        raise ChildNotFound(f"no {kind} {child_id!r}")
    return as_id(child_id)


@cache
def _references(model):
    """The model's columns that point at another child (all its foreign
    keys but `event_id`), each with the model it points at."""
    models_by_table = {mapper.local_table: mapper.class_ for mapper in Base.registry.mappers}
    return {
        column.key: models_by_table[foreign_key.column.table]
        for column in model.__table__.columns
        if column.key != "event_id"
        for foreign_key in column.foreign_keys
    }


def _check_references(session, spec, kind, event_id, values):
    """Every id among `values` that names another row must name a live row
    of event `event_id`."""
    for name, target in _references(spec.model).items():
        if values.get(name) is not None:
            _require_live(session, target, event_id, [values[name]], f"{kind}: {name}")
    for name, link in spec.links.items():
        if values.get(name):
            _require_live(session, link.target, event_id, values[name], f"{kind}: {name}")


def _require_live(session, model, event_id, ids, where):
    found = session.scalars(
        select(model.id).where(model.id.in_(ids), model.event_id == event_id,
                               model.deleted_at.is_(None))
    ).all()
    missing = sorted(set(ids) - set(found))
    if missing:
        raise InvalidEventData(
            f"invalid {where}: no {model.__tablename__} {missing} in this event"
        )


def _store_links(session, spec, owner_id, values):
    """Replace the owner's links for each link list present in `values`."""
    for name, link in spec.links.items():
        if name not in values:
            continue
        owner = link.table.c[link.owner_column]
        session.execute(delete(link.table).where(owner == owner_id))
        targets = sorted(set(values[name]))
        if targets:
            session.execute(insert(link.table), [
                {link.owner_column: owner_id, link.target_column: target} for target in targets
            ])


def _serialize(session, spec, children, public_kind=None):
    """The children as JSON-ready dicts with their links; with
    `public_kind`, in that kind's public answer."""
    links = _links(session, spec, [child.id for child in children])
    items = [
        serialize_row(child, {name: by_owner.get(child.id, []) for name, by_owner in links.items()})
        for child in children
    ]
    if public_kind is None:
        return items
    return [public_view.answer(public_kind, item) for item in items]


def _links(session, spec, owner_ids):
    """For each link field: owner id → sorted ids of its live targets, in
    one query per field."""
    links = {}
    for name, link in spec.links.items():
        owner, target = link.table.c[link.owner_column], link.table.c[link.target_column]
        rows = session.execute(
            select(owner, target)
            .join(link.target, link.target.id == target)
            .where(owner.in_(owner_ids), link.target.deleted_at.is_(None))
            .order_by(owner, target)
        )
        by_owner = defaultdict(list)
        for owner_id, target_id in rows:
            by_owner[owner_id].append(target_id)
        links[name] = by_owner
    return links
