"""What an upload brings: the bytes (base64 over RPC, whose JSON cannot
carry raw bytes) and the slot they go to, as the images to store, decoded
by the process's `Decoder`."""
import base64
import binascii
import ctypes

from nameko.extensions import DependencyProvider

from contracts.media.errors import ImagesBusy, InvalidMediaData, UnknownSlot
from contracts.vocabulary import UPLOAD_SLOTS
from services.media import images
from services.media.settings import MediaSettings
from shared.bounded import BoundedPool
from shared.settings import settings_of

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


class Decoder:
    """Uploads prepared (`images.prepare`) within the byte and pixel limits,
    in `pool` (`shared.bounded.BoundedPool`): decoding is CPU work, and an
    image at the pixel limit takes up to 4 bytes a pixel. The limits are
    checked from the header first, before any wait: a decompression bomb is
    refused at once and never holds a place."""

    def __init__(self, max_bytes, max_pixels, pool):
        self.limits = max_bytes, max_pixels
        self._pool = pool

    def prepare(self, data, renditions=False):
        images.check(data, *self.limits)
        return self._pool.run(images.prepare, data, *self.limits, renditions=renditions)


class Decoding(DependencyProvider):
    """The process's `Decoder`: limits from `MEDIA_MAX_BYTES` and
    `MEDIA_MAX_PIXELS`, at most `MEDIA_DECODES_AT_ONCE` decodes at a time and
    `MEDIA_DECODES_WAITING` waiting (then `ImagesBusy`)."""

    def setup(self):
        settings = settings_of(self.container, MediaSettings)
        pool = BoundedPool(settings.MEDIA_DECODES_AT_ONCE, settings.MEDIA_DECODES_WAITING,
                           busy=ImagesBusy)
        self.decoder = Decoder(settings.MEDIA_MAX_BYTES, settings.MEDIA_MAX_PIXELS, pool)
        give_back_large_buffers()

    def get_dependency(self, worker_ctx):
        return self.decoder


def give_back_large_buffers():
    """Have glibc map every buffer of 1 MiB or more (decoded pixels, image
    bytes, base64 bodies) on its own, and unmap it when it is freed. By
    default it raises that threshold to the largest buffer freed so far (up
    to 32 MiB) and keeps freed memory below it for reuse, so the process
    would keep its peak for good. Nothing to do where the C library is
    another."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, 2**20)


def decoded(content):
    """The bytes of base64 `content`, else InvalidMediaData."""
    if not isinstance(content, str):
        raise InvalidMediaData("content must be the image's bytes in base64")
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidMediaData("content is not valid base64") from None


def event_images(slot, content, decoder):
    """slot → images.Image for an upload to an event's `slot`."""
    if slot not in UPLOAD_SLOTS:
        raise UnknownSlot(f"no image slot {slot!r}; the slots are: {', '.join(UPLOAD_SLOTS)}")
    prepared = decoder.prepare(decoded(content), renditions=slot == "original")
    return {slot if name == "original" else name: image for name, image in prepared.items()}


def sponsor_images(content, decoder):
    return {"logo": decoder.prepare(decoded(content))["original"]}


def encoded(data):
    return base64.b64encode(data).decode("ascii")
