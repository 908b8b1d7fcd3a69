"""Copy an event and its related objects: one transaction, set-based.

Each kind is copied with one `INSERT … SELECT` of the source event's live
rows. Kinds whose rows are pointed at (tickets by discount-code links,
sponsors by the media service, tracks / microlocations / session types /
speakers by sessions) also record old → new ids in a transaction-local map
table, which later statements join to remap their references. Nothing is
cloned through the ORM and nothing commits here: the caller's unit of work
commits the copy and its `event.copied` message together, or neither.
"""
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, OperationalError

from services.events import models
from services.events.events import find_event, new_identifier
from services.events.exceptions import CopyFailed, IdempotencyKeyReused, InvalidEventData
from shared import outbox
from shared.messages import EventCopied

SYSTEM_COLUMNS = {"id", "event_id", "created_at", "deleted_at"}
MEDIA_COLUMNS = {"logo_url", "original_image_url", "large_image_url",
                 "thumbnail_image_url", "icon_image_url"}

# Copied in this order; a kind's references point at kinds copied before it.
ALWAYS = (
    models.Tax, models.Ticket, models.SocialLink, models.Sponsor, models.Microlocation,
    models.Track, models.SpeakersCall, models.DiscountCode, models.CustomForm, models.SessionType,
)
SESSIONS = (models.Speaker, models.Session)
OPTIONAL = {"sessions": SESSIONS}

# Kinds whose old -> new ids are recorded, and the references remapped with them.
MAPPED = {"tickets", "sponsors", "discount_codes", "tracks", "microlocations",
          "session_types", "speakers", "sessions"}
REFERENCES = {"track_id": "tracks", "microlocation_id": "microlocations",
              "session_type_id": "session_types"}
LINKS = {
    "discount_codes": (models.discount_code_tickets, "discount_codes", "tickets"),
    "sessions": (models.session_speakers, "sessions", "speakers"),
}


def copy_event(session, ref, actor_id, name=None, include=(), idempotency_key=None):
    kinds = ALWAYS + _optional_kinds(include)
    name = _checked_name(name)
    source = find_event(session, ref, lock="share")
    source_id, source_identifier = source.id, source.identifier

    if idempotency_key is not None:
        earlier = _claim_key(session, actor_id, idempotency_key, source_id)
        if earlier is not None:
            return _answer(session.get(models.Event, earlier), source_id, source_identifier)

    try:
        copy = _copy_rows(session, source_id, actor_id, name, kinds)
    except OperationalError:
        raise
    except DBAPIError as exc:
        raise CopyFailed(f"copying event {source_identifier} failed; nothing was copied") from exc

    if idempotency_key is not None:
        session.execute(
            text("UPDATE copy_requests SET event_id = :copy"
                 " WHERE actor_id = :actor AND idempotency_key = :key"),
            {"copy": copy.id, "actor": actor_id, "key": idempotency_key},
        )
    return _answer(copy, source_id, source_identifier)


def _copy_rows(session, source_id, actor_id, name, kinds):
    session.execute(text(
        "CREATE TEMP TABLE copy_map (kind text, old_id bigint, new_id bigint) ON COMMIT DROP"
    ))
    copy_id = _copy_event_row(session, source_id, name)
    for model in kinds:
        _copy_kind(session, model.__table__, source_id, copy_id)
    for table in (model.__tablename__ for model in kinds):
        if table in LINKS:
            _copy_links(session, *LINKS[table])
    copy = session.get(models.Event, copy_id)
    source = session.get(models.Event, source_id)
    outbox.add(session, EventCopied(
        source_event_id=source.id,
        source_identifier=source.identifier,
        event_id=copy.id,
        identifier=copy.identifier,
        actor_id=actor_id,
        sponsor_ids=_id_map(session, "sponsors"),
    ))
    session.execute(text("DROP TABLE copy_map"))
    return copy


def _copy_event_row(session, source_id, name):
    table = models.Event.__table__
    kept = [c.name for c in table.columns
            if c.name not in SYSTEM_COLUMNS | MEDIA_COLUMNS | {"identifier", "name", "state",
                                                               "copied_from_id"}]
    columns = ", ".join(kept)
    return session.execute(
        text(f"INSERT INTO events (identifier, name, state, copied_from_id, {columns})"
             f" SELECT :identifier, coalesce(:name, name), 'draft', id, {columns}"
             f" FROM events WHERE id = :source RETURNING id"),
        {"identifier": new_identifier(session), "name": name, "source": source_id},
    ).scalar_one()


def _copy_kind(session, table, source_id, copy_id):
    kept = [c.name for c in table.columns if c.name not in SYSTEM_COLUMNS | MEDIA_COLUMNS]
    values = ", ".join(_remapped(column) for column in kept)
    joins = " ".join(
        f"LEFT JOIN copy_map map_{column} ON map_{column}.kind = '{kind}'"
        f" AND map_{column}.old_id = source.{column}"
        for column, kind in REFERENCES.items() if column in kept
    )
    live = (f"SELECT * FROM {table.name} WHERE event_id = :source AND deleted_at IS NULL"
            f" ORDER BY id")
    columns = ", ".join(kept)
    if table.name not in MAPPED:
        statement = (f"INSERT INTO {table.name} (event_id, {columns})"
                     f" SELECT :copy, {values} FROM ({live}) source {joins}")
    else:
        statement = (
            f"WITH source AS MATERIALIZED ("
            f"  SELECT live.*, nextval(pg_get_serial_sequence('{table.name}', 'id')) AS new_id"
            f"  FROM ({live}) live),"
            f" inserted AS (INSERT INTO {table.name} (id, event_id, {columns})"
            f"  SELECT source.new_id, :copy, {values} FROM source {joins})"
            f" INSERT INTO copy_map SELECT '{table.name}', id, new_id FROM source"
        )
    session.execute(text(statement), {"source": source_id, "copy": copy_id})


def _remapped(column):
    return f"map_{column}.new_id" if column in REFERENCES else f"source.{column}"


def _copy_links(session, link_table, left_kind, right_kind):
    left, right = (column.name for column in link_table.primary_key.columns)
    session.execute(text(
        f"INSERT INTO {link_table.name} ({left}, {right})"
        f" SELECT l.new_id, r.new_id FROM {link_table.name} link"
        f" JOIN copy_map l ON l.kind = '{left_kind}' AND l.old_id = link.{left}"
        f" JOIN copy_map r ON r.kind = '{right_kind}' AND r.old_id = link.{right}"
    ))


def _id_map(session, kind):
    rows = session.execute(
        text("SELECT old_id, new_id FROM copy_map WHERE kind = :kind"), {"kind": kind}
    )
    return dict(rows.all())


def _claim_key(session, actor_id, key, source_id):
    """Record the key, or return the copy an earlier request made with it.

    A concurrent request with the same key waits here on the primary key
    until the first one commits (then answers with its copy) or rolls back
    (then makes the copy itself)."""
    if not isinstance(key, str) or not 0 < len(key) <= 255:
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
        select(models.CopyRequest.source_event_id, models.CopyRequest.event_id)
        .where(models.CopyRequest.actor_id == actor_id,
               models.CopyRequest.idempotency_key == key)
    ).one()
    if earlier.source_event_id != source_id:
        raise IdempotencyKeyReused("this Idempotency-Key was used to copy another event")
    return earlier.event_id


def _answer(copy, source_id, source_identifier):
    return {
        "id": copy.id,
        "identifier": copy.identifier,
        "copied": True,
        "copied_from": {"id": source_id, "identifier": source_identifier},
    }


def _optional_kinds(include):
    if isinstance(include, str) or not all(item in OPTIONAL for item in include):
        raise InvalidEventData(f"include takes a list of: {', '.join(OPTIONAL)}")
    return tuple(model for item in dict.fromkeys(include) for model in OPTIONAL[item])


def _checked_name(name):
    if name is not None and (not isinstance(name, str) or not 0 < len(name.strip()) <= 255):
        raise InvalidEventData("name must be a non-empty string of at most 255 characters")
    return name
