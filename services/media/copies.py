"""Duplication on `event.copied`: the copy's own media records, sharing
the original's blobs.

One `INSERT … SELECT` makes a new record, with a new public key, for every
live record of the source event and of each copied sponsor; no bytes are
read or written. `media.copied` goes into the outbox in the same
transaction, with the new URLs.
"""
import json

from sqlalchemy import text

from contracts.media.messages import MediaCopied
from contracts.vocabulary import EVENT_IMAGE_FIELDS
from services.media.media import announce_change, next_version, url
from shared import outbox

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
ON CONFLICT DO NOTHING
RETURNING owner_kind, owner_id, slot, public_key
""")


def copy_media(session, message, base_url):
    """Give the copy of `message` (EventCopied) its own records, and
    announce them with `media.copied` (and, numbered like every change of
    the copy's media, `media.changed`)."""
    version = next_version(session, message.event_id)
    copied = session.execute(COPY_RECORDS, {
        "event_id": message.event_id,
        "source_event_id": message.source_event_id,
        "sponsor_ids": json.dumps({str(old): new for old, new in message.sponsor_ids.items()}),
    }).all()
    outbox.add(session, MediaCopied(
        source_event_id=message.source_event_id,
        event_id=message.event_id,
        event_urls={EVENT_IMAGE_FIELDS[row.slot]: url(base_url, row.public_key)
                    for row in copied if row.owner_kind == "event"},
        sponsor_urls={row.owner_id: url(base_url, row.public_key)
                      for row in copied if row.owner_kind == "sponsor"},
    ))
    announce_change(session, message.event_id, version, base_url)
