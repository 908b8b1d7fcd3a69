"""Duplication on `event.copied`: the copy's own media records, sharing
the original's blobs.

One `INSERT … SELECT` makes a new record, with a new public key, for every
live record of the source event and of each copied sponsor; no bytes are
read or written; nothing is made for a copy, or a copied sponsor, deleted
meanwhile (`lifecycle`). `media.copied` goes into the outbox in the same
transaction, with the new URLs.
"""
import json

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from contracts.media.messages import MediaCopied
from contracts.media.urls import media_url
from contracts.vocabulary import EVENT_IMAGE_FIELDS
from services.media.media import announce_change, next_version
from services.media.models import EventCopy, Media
from shared import outbox
from shared.messages import ForgedMessage

COPY_RECORDS = text("""
WITH sponsor_map AS (
    SELECT key::bigint AS old_id, value::bigint AS new_id
    FROM jsonb_each_text(CAST(:sponsor_ids AS jsonb))
)
INSERT INTO media (event_id, owner_kind, owner_id, slot, blob_key, content_type, size,
                   width, height, public_key)
SELECT :event_id, m.owner_kind,
       CASE WHEN m.owner_kind = 'event' THEN :event_id ELSE s.new_id END,
       m.slot, m.blob_key, m.content_type, m.size, m.width, m.height,
       replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
FROM media m
LEFT JOIN sponsor_map s ON m.owner_kind = 'sponsor' AND m.owner_id = s.old_id
WHERE m.event_id = :source_event_id AND m.deleted_at IS NULL
  AND (m.owner_kind = 'event' OR s.new_id IS NOT NULL)
  AND NOT EXISTS (SELECT FROM deleted_owners d
                  WHERE (d.owner_kind, d.owner_id) IN (('event', :event_id), ('sponsor', s.new_id)))
ON CONFLICT DO NOTHING
RETURNING owner_kind, owner_id, slot, public_key
""")


def copy_media(session, message, base_url):
    """Give the copy of `message` (EventCopied) its own records, and
    announce them with `media.copied` (and, numbered like every change of
    the copy's media, `media.changed`).

    This service knows no events, only the media it holds, and checks the
    message against those (else ForgedMessage, nothing changes): the copy
    is not its source; each event is copied once (a second `event.copied`
    for it under a new message id is a replay, which would bring back
    images removed from the copy since); and every sponsor in the map of
    which it holds media is of the event the message says, an old one of
    the source, a new one of the copy (else the copy would take another
    event's images, or hand them to another event's sponsor). Only the
    source's own records are ever read. Believed on the sender's word:
    that the copy exists and the map pairs the source's sponsors with the
    copy's (the events service made both).
    """
    _require_a_first_copy(session, message)
    version = next_version(session, message.event_id)
    copied = session.execute(COPY_RECORDS, {
        "event_id": message.event_id,
        "source_event_id": message.source_event_id,
        "sponsor_ids": json.dumps({str(old): new for old, new in message.sponsor_ids.items()}),
    }).all()
    outbox.add(session, MediaCopied(
        source_event_id=message.source_event_id,
        event_id=message.event_id,
        event_urls={EVENT_IMAGE_FIELDS[row.slot]: media_url(base_url, row.public_key)
                    for row in copied if row.owner_kind == "event"},
        sponsor_urls={row.owner_id: media_url(base_url, row.public_key)
                      for row in copied if row.owner_kind == "sponsor"},
    ))
    announce_change(session, message.event_id, version, base_url)


def _require_a_first_copy(session, message):
    if message.event_id == message.source_event_id:
        raise ForgedMessage(f"event {message.event_id} is named as its own copy")
    for sponsor_ids, event_id in ((message.sponsor_ids.keys(), message.source_event_id),
                                  (message.sponsor_ids.values(), message.event_id)):
        stray = session.execute(
            select(Media.owner_id, Media.event_id)
            .where(Media.owner_kind == "sponsor", Media.owner_id.in_(list(sponsor_ids)),
                   Media.event_id != event_id).limit(1)
        ).first()
        if stray:
            raise ForgedMessage(f"sponsor {stray.owner_id} is of event {stray.event_id},"
                                f" not {event_id}")
    first = session.execute(
        insert(EventCopy).values(event_id=message.event_id,
                                 source_event_id=message.source_event_id)
        .on_conflict_do_nothing().returning(EventCopy.event_id)
    ).first()
    if first is None:
        raise ForgedMessage(f"event {message.event_id} was copied already: a replay")
