"""The media service as its tests see it: images made in memory with Pillow,
base64 as RPC carries them, the URL fields the events service shows, and
what is stored (rows in the media database, files under MEDIA_ROOT)."""
import base64
import io
import random
import struct
import zlib
from pathlib import Path

import PIL.Image
from sqlalchemy import func, select

from services.events.media_urls import EVENT_URL_FIELDS
from services.media.models import Blob, EventMediaVersion, Media
from tests.support.broker import publish_event

ACTOR = 7
EVENT = {"name": "FOSSASIA Summit", "starts_at": "2030-03-14T09:00:00+08:00",
         "ends_at": "2030-03-16T18:00:00+08:00", "timezone": "Asia/Singapore"}
RENDITION_SLOTS = ("original", "large", "thumbnail", "icon")


def image(color="red", size=(1430, 550), fmt="PNG", **options):
    """The bytes of a one-colour image, by default larger than every
    rendition's box; another colour, other bytes."""
    buffer = io.BytesIO()
    PIL.Image.new("RGB", size, color).save(buffer, fmt, **options)
    return buffer.getvalue()


def b64(data):
    return base64.b64encode(data).decode("ascii")


def served_bytes(media, url):
    """The bytes `read_media` serves at `url`."""
    return base64.b64decode(media.read_media(key_of(url))["content"])


def key_of(url):
    """The public key of a media URL (`…/media/{key}`)."""
    return url.rsplit("/", 1)[1]


def event_urls(events, event_ref):
    """The event's URL fields as the events service shows them."""
    event = events.get_event(event_ref)
    return {field: event[field] for field in EVENT_URL_FIELDS}


def sponsor_logos(events, event_ref):
    """The logo_url of each of the event's sponsors, by sponsor id."""
    return {sponsor["id"]: sponsor["logo_url"]
            for sponsor in events.list_children(event_ref, "sponsors")["items"]}


def files_under(root):
    """Every file under `root`, as paths relative to it."""
    return sorted(str(path.relative_to(root)) for path in Path(root).rglob("*") if path.is_file())


def count(engine, model, *where):
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model).where(*where))


def live_records(engine, event_id):
    """How many live media records the event (and its sponsors) have."""
    return count(engine, Media, Media.event_id == event_id, Media.deleted_at.is_(None))


def stored(engine, root):
    """Everything the media service has written: records, blob rows, media
    versions, files."""
    with engine.connect() as connection:
        records = connection.execute(
            select(Media.public_key, Media.blob_key, Media.deleted_at).order_by(Media.id)).all()
        blobs = connection.scalars(select(Blob.key).order_by(Blob.key)).all()
        versions = connection.execute(select(EventMediaVersion.event_id, EventMediaVersion.version)
                                      .order_by(EventMediaVersion.event_id)).all()
    return {"records": records, "blobs": blobs, "versions": versions,
            "files": files_under(root)}


def publish(amqp_uri, message):
    """Publish `message` as its source service's outbox relay would."""
    publish_event(amqp_uri, message.to_payload(), message.message_id,
                  source=message.source, event_type=message.event_type)


def noise(size, fmt="PNG"):
    """An image of random pixels: it compresses to about its raw size."""
    pixels = random.Random(str(size)).randbytes(size[0] * size[1] * 3)
    buffer = io.BytesIO()
    PIL.Image.frombytes("RGB", size, pixels).save(buffer, fmt)
    return buffer.getvalue()


def png_claiming(width, height):
    """A PNG of a few bytes whose header claims `width` x `height` pixels:
    what a decompression bomb looks like before it is decoded."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = zlib.compress(bytes(1 + (width + 7) // 8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", row)
            + chunk(b"IEND", b""))
