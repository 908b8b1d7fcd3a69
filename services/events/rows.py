"""What events and children share: rows as JSON-ready dicts, lists in
pages, and updates checked both alone and against the rest of the row."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, inspect, select

from services.events.schemas import validate
from shared.times import iso_utc

HIDDEN = frozenset({"deleted_at", "media_version"})


def serialize_row(row, links=None):
    """Every column but `deleted_at` (times as ISO 8601 UTC, money as a
    decimal string), plus `links` (field → sorted id list)."""
    data = {name: _json_ready(getattr(row, name)) for name in column_names(row)
            if name not in HIDDEN}
    return {**data, **(links or {})}


def _json_ready(value):
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def column_names(row):
    return inspect(row).mapper.columns.keys()


def paged(session, query, window, *order):
    """`{items, total, limit, offset}`: the rows of `query` in `order`, cut
    to `window` (a `shared.validation.Page`); `total` counts them all."""
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(*order).limit(window.limit).offset(window.offset))
    return {"items": rows.all(), "total": total, **window.model_dump()}


def updated_values(row, create, update, data, what):
    """The fields `data` changes, validated with the `update` schema; the
    row as changed must also pass the `create` schema (so ends_at stays
    after starts_at, and the like)."""
    changes = validate(update, data, what, sent_only=True)
    columns = column_names(row)
    current = {name: getattr(row, name) for name in create.model_fields if name in columns}
    validate(create, {**current, **changes}, what)
    return changes


def apply(row, values):
    """Set the row's columns among `values` (other keys, such as link
    lists, are left to the caller)."""
    names = column_names(row)
    for name, value in values.items():
        if name in names:
            setattr(row, name, value)
