"""What an upload brings: the bytes (base64 over RPC, whose JSON cannot
carry raw bytes) and the slot they go to, as the images to store."""
import base64
import binascii

from eventlet import tpool

from contracts.media.errors import InvalidMediaData, UnknownSlot
from contracts.vocabulary import UPLOAD_SLOTS
from services.media import images


def decoded(content):
    """The bytes of base64 `content`, else InvalidMediaData."""
    if not isinstance(content, str):
        raise InvalidMediaData("content must be the image's bytes in base64")
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidMediaData("content is not valid base64") from None


def event_images(slot, content, limits):
    """slot → images.Image for an upload to an event's `slot`."""
    if slot not in UPLOAD_SLOTS:
        raise UnknownSlot(f"no image slot {slot!r}; the slots are: {', '.join(UPLOAD_SLOTS)}")
    prepared = _prepare(content, limits, renditions=slot == "original")
    return {slot if name == "original" else name: image for name, image in prepared.items()}


def sponsor_images(content, limits):
    return {"logo": _prepare(content, limits)["original"]}


def _prepare(content, limits, renditions=False):
    # decoding is CPU work: off the event loop
    return tpool.execute(images.prepare, decoded(content), *limits, renditions=renditions)


def encoded(data):
    return base64.b64encode(data).decode("ascii")
