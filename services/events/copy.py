"""Copy an event and its related objects: one transaction, set-based.

After the event row, every kind is copied by one SQL statement built from
the models: per kind an `INSERT … SELECT` of the source event's live rows.
A kind whose rows are pointed at in this copy (tickets and discount codes by
their links, sponsors by the media service; with sessions also tracks,
microlocations, session types and speakers) is first read into a
materialised CTE that draws each row's new id from the table's sequence;
the statements that point at it join that CTE to map old ids to new ones.
Nothing is cloned through the ORM and nothing commits here: the caller's
unit of work commits the copy and its `event.copied` message together, or
neither.
"""
from functools import cache

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, OperationalError

from contracts.events.errors import CopyFailed, IdempotencyKeyReused, InvalidEventData
from contracts.events.messages import EventCopied
from contracts.vocabulary import EVENT_IMAGE_FIELDS, SPONSOR_LOGO_FIELD
from services.events import models
from services.events.events import changed, find_event, new_identifier, user_id
from shared import outbox

# the copy's media follow (media.copied): its URL columns start empty
NOT_COPIED_COLUMNS = {"id", "event_id", "created_at", "deleted_at", "media_version",
                      *EVENT_IMAGE_FIELDS.values(), SPONSOR_LOGO_FIELD}

# Copied in this order; a kind's references point at kinds copied before it.
ALWAYS = (
    models.Tax, models.Ticket, models.SocialLink, models.Sponsor, models.Microlocation,
    models.Track, models.SpeakersCall, models.DiscountCode, models.CustomForm, models.SessionType,
)
OPTIONAL = {"sessions": (models.Speaker, models.Session)}

REFERENCES = {"track_id": "tracks", "microlocation_id": "microlocations",
              "session_type_id": "session_types"}
LINKS = {  # owner kind -> (link table, kind its first column points at, second column's)
    "discount_codes": (models.discount_code_tickets, "discount_codes", "tickets"),
    "sessions": (models.session_speakers, "sessions", "speakers"),
}

_EVENT_KEPT = ", ".join(
    column.name for column in models.Event.__table__.columns
    if column.name not in NOT_COPIED_COLUMNS | {"identifier", "name", "state", "copied_from_id"}
)
_EVENT_ROW_STATEMENT = (
    f"INSERT INTO events (identifier, name, state, copied_from_id, {_EVENT_KEPT})"
    f" SELECT :identifier, coalesce(:name, name), 'draft', id, {_EVENT_KEPT}"
    f" FROM events WHERE id = :source RETURNING id"
)


def copy_event(session, ref, actor_id, name=None, include=(), idempotency_key=None):
    tables = copied_tables(include)
    name = _checked_name(name)
    actor_id = user_id(actor_id)
    source = find_event(session, ref, lock="share")
    source_ref = {"id": source.id, "identifier": source.identifier}

    if idempotency_key is not None:
        earlier = _claim_key(session, actor_id, idempotency_key, source.id)
        if earlier is not None:
            return _answer(earlier, source_ref)

    try:
        copy = _copy_event_row(session, source.id, name)
        sponsor_ids = session.execute(
            text(children_statement(tables)), {"source": source.id, "copy": copy["id"]}
        ).scalar_one()
    except OperationalError:
        raise  # the database is away: the unit of work answers Unavailable
    except DBAPIError as exc:
        raise CopyFailed(f"copying event {source.identifier} failed; nothing was copied") from exc

    outbox.add(session, EventCopied(
        source_event_id=source.id, source_identifier=source.identifier,
        event_id=copy["id"], identifier=copy["identifier"], actor_id=actor_id,
        sponsor_ids=sponsor_ids,
    ))
    changed(session, copy["id"])
    if idempotency_key is not None:
        session.execute(
            text("UPDATE copy_requests SET event_id = :copy"
                 " WHERE actor_id = :actor AND idempotency_key = :key"),
            {"copy": copy["id"], "actor": actor_id, "key": idempotency_key},
        )
    return _answer(copy, source_ref)


def _copy_event_row(session, source_id, name):
    """A draft copy of the event row: new id and identifier, no media."""
    identifier = new_identifier(session)
    copy_id = session.execute(
        text(_EVENT_ROW_STATEMENT),
        {"identifier": identifier, "name": name, "source": source_id},
    ).scalar_one()
    return {"id": copy_id, "identifier": identifier}


def copied_tables(include=()):
    """The tables a copy fills, in order: `ALWAYS`, then the `OPTIONAL`
    kinds named in `include`."""
    return tuple(model.__table__ for model in ALWAYS + _optional_kinds(include))


@cache
def children_statement(tables):
    """One statement copying every table's live rows of `:source` into
    `:copy`; it answers the old -> new sponsor ids as a JSON object."""
    mapped = mapped_kinds(tables)
    ctes = [cte for table in tables for cte in _copy_table(table, mapped)]
    ctes += [_copy_links(*LINKS[table.name]) for table in tables if table.name in LINKS]
    return ("WITH " + ",\n".join(ctes) + "\n"
            "SELECT coalesce(json_object_agg(old.id, old.new_id), '{}') FROM sponsors_old old")


def mapped_kinds(tables):
    """The kinds whose old -> new ids this copy needs."""
    mapped = {"sponsors"}
    for table in tables:
        mapped |= {kind for column, kind in REFERENCES.items() if column in table.columns}
        if table.name in LINKS:
            mapped |= set(LINKS[table.name][1:])
    return mapped


def _copy_table(table, mapped):
    """The CTEs copying one table. A mapped table's live rows are first
    materialised as `{table}_old` with the new id each will get."""
    name = table.name
    kept = [c.name for c in table.columns if c.name not in NOT_COPIED_COLUMNS]
    live = f"SELECT * FROM {name} WHERE event_id = :source AND deleted_at IS NULL ORDER BY id"
    references = {column: kind for column, kind in REFERENCES.items() if column in kept}
    values = ", ".join(f"{column}_map.new_id" if column in references else f"old.{column}"
                       for column in kept)
    joins = "".join(f" LEFT JOIN {kind}_old {column}_map ON {column}_map.id = old.{column}"
                    for column, kind in references.items())
    columns = ", ".join(kept)
    if name not in mapped:
        return [f"{name}_new AS (INSERT INTO {name} (event_id, {columns})"
                f" SELECT :copy, {values} FROM ({live}) old{joins})"]
    return [
        f"{name}_old AS MATERIALIZED (SELECT live.*, nextval('{name}_id_seq') AS new_id"
        f" FROM ({live}) live)",
        f"{name}_new AS (INSERT INTO {name} (id, event_id, {columns})"
        f" SELECT old.new_id, :copy, {values} FROM {name}_old old{joins})",
    ]


def _copy_links(link_table, left_kind, right_kind):
    left, right = (column.name for column in link_table.primary_key.columns)
    return (f"{link_table.name}_new AS (INSERT INTO {link_table.name} ({left}, {right})"
            f" SELECT l.new_id, r.new_id FROM {left_kind}_old l"
            f" JOIN {link_table.name} link ON link.{left} = l.id"
            f" JOIN {right_kind}_old r ON r.id = link.{right})")


def _claim_key(session, actor_id, key, source_id):
    """Record the key, or return the copy an earlier request made with it.

    A concurrent request with the same key waits here on the primary key
    until the first one commits (then answers with its copy) or rolls back
    (then makes the copy itself)."""
    if not isinstance(key, str) or not 0 < len(key) <= 255 or "\x00" in key:
        raise InvalidEventData("idempotency_key must be a string of 1 to 255 characters")
    claimed = session.execute(
        insert(models.CopyRequest)
        .values(actor_id=actor_id, idempotency_key=key, source_event_id=source_id)
        .on_conflict_do_nothing()
        .returning(models.CopyRequest.actor_id)
    ).first()
    if claimed is not None:
        return None
    earlier = session.execute(
        select(models.CopyRequest.source_event_id, models.Event.id, models.Event.identifier)
        .join(models.Event, models.Event.id == models.CopyRequest.event_id)
        .where(models.CopyRequest.actor_id == actor_id,
               models.CopyRequest.idempotency_key == key)
    ).one()
    if earlier.source_event_id != source_id:
        raise IdempotencyKeyReused("this Idempotency-Key was used to copy another event")
    return {"id": earlier.id, "identifier": earlier.identifier}


def _answer(copy, source_ref):
    return {**copy, "copied": True, "copied_from": source_ref}


def _optional_kinds(include):
    include = () if include is None else include
    if not isinstance(include, list | tuple) or not all(item in OPTIONAL for item in include):
        raise InvalidEventData(f"include takes a list of: {', '.join(OPTIONAL)}")
    return tuple(model for item in dict.fromkeys(include) for model in OPTIONAL[item])


def _checked_name(name):
    if name is not None and (not isinstance(name, str) or not 0 < len(name.strip()) <= 255
                             or "\x00" in name):
        raise InvalidEventData("name must be a non-empty string of at most 255 characters")
    return name
