"""Uploaded images checked, stripped of metadata and resized, from bytes to bytes.

Every image is decoded and re-encoded from its pixels alone, so nothing a
camera or editor wrote survives: no EXIF (GPS, camera), XMP, ICC profile,
PNG text chunks or comments. The EXIF orientation is applied first, so a
rotated photo still looks right. Decisions worth knowing:

- A GIF is stored as a PNG (lossless, keeps transparency); the other formats
  keep their own.
- An animated GIF, PNG or WebP keeps its first frame only.
- A JPEG is always stored as greyscale or RGB (CMYK is converted), quality 90;
  a WebP is stored lossy, quality 90.
- A rendition is never larger than the original: a small image keeps its size.

Decoding is CPU work; under eventlet, call `prepare` in a native thread
(`eventlet.tpool`), as the roles service hashes passwords.
"""
import io
from contextlib import contextmanager
from dataclasses import dataclass

import PIL.Image
import PIL.ImageOps

from contracts.media.errors import ImageTooLarge, InvalidImage
from contracts.vocabulary import IMAGE_MEDIA_TYPES, RENDITION_SLOTS

# Pillow format -> media type, in the order of IMAGE_MEDIA_TYPES
FORMATS = dict(zip(("JPEG", "PNG", "WEBP", "GIF"), IMAGE_MEDIA_TYPES, strict=True))
# rendition slot -> the box it fits in
RENDITIONS = dict(zip(RENDITION_SLOTS, ((1300, 500), (500, 200), (75, 30)), strict=True))
ACCEPTED = "JPEG, PNG, WebP or GIF"

_SAME_AS = {"MPO": "JPEG"}  # a camera's multi-picture JPEG: read as its first picture
_STORED_AS = {"GIF": "PNG"}
_OPTIONS = {"JPEG": {"quality": 90}, "WEBP": {"quality": 90}, "PNG": {}}


@dataclass(frozen=True)
class Image:
    """An image as stored: its encoded bytes and what they are."""

    data: bytes
    content_type: str
    width: int
    height: int


def prepare(data, max_bytes, max_pixels, renditions=False):
    """`{"original": Image}` for the uploaded `data`, and with `renditions` one
    Image per RENDITIONS name too. Raises ImageTooLarge or InvalidImage (see
    `decode`)."""
    image = decode(data, max_bytes, max_pixels)
    prepared = {"original": clean(image, image.format)}
    if renditions:
        prepared |= {name: rendition(image, box) for name, box in RENDITIONS.items()}
    return prepared


def decode(data, max_bytes, max_pixels):
    """The image in `data`, fully loaded and upright; its `format` is a key of FORMATS.

    ImageTooLarge for over `max_bytes` bytes (checked before decoding) or over
    `max_pixels` pixels (checked from the header, before the pixels are
    decompressed); InvalidImage for anything else that is not a whole image
    in an accepted format. No other error escapes, whatever the bytes.
    """
    if len(data) > max_bytes:
        raise ImageTooLarge(f"the image is {len(data)} bytes; the limit is {max_bytes}")
    with _refused_as("the file is not an image, or is corrupt"):
        opened = PIL.Image.open(io.BytesIO(data))
    fmt = _SAME_AS.get(opened.format, opened.format)
    if fmt not in FORMATS:
        raise InvalidImage(f"{fmt or 'this format'} is not accepted; send {ACCEPTED}")
    if opened.width * opened.height > max_pixels:
        raise ImageTooLarge(f"the image is {opened.width}x{opened.height} pixels; "
                            f"the limit is {max_pixels} pixels")
    with _refused_as(f"the {fmt} image is truncated or corrupt"):
        opened.load()
    image = _upright(opened)
    image.format = fmt
    return image


def clean(image, fmt):
    """`image` encoded as `fmt` (a key of FORMATS) from its pixels alone; a GIF
    becomes a PNG."""
    return _encode(image.copy(), fmt)


def rendition(image, box):
    """A decoded `image` shrunk to fit inside `box` (width, height), keeping its
    aspect ratio and never enlarged, encoded as `clean` would."""
    scale = min(box[0] / image.width, box[1] / image.height, 1)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resized = _resizable(image).resize(size, PIL.Image.Resampling.LANCZOS, reducing_gap=3.0)
    return _encode(resized, image.format)


def _upright(image):
    """A copy of `image` turned as its EXIF orientation says, or as it is when
    that EXIF is unreadable: it is dropped anyway, the pixels are fine."""
    try:
        return PIL.ImageOps.exif_transpose(image)
    except Exception:
        return image.copy()


def _resizable(image):
    """`image` in a mode that resizes smoothly (a palette or 1-bit image would
    be resized nearest-neighbour; 16-bit grey would clip to white)."""
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode in ("I", "I;16"):
        return image.convert("I").point(lambda value: value / 256).convert("L")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _encode(image, fmt):
    """Saves `image`, which the caller gives up, keeping nothing of its info
    but the transparency its pixels need."""
    fmt = _STORED_AS.get(fmt, fmt)
    image.info = {key: value for key, value in image.info.items() if key == "transparency"}
    if fmt == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt, **_OPTIONS[fmt])
    return Image(buffer.getvalue(), FORMATS[fmt], image.width, image.height)


@contextmanager
def _refused_as(detail):
    """Any error Pillow raises reading an image becomes InvalidImage with
    `detail`, or ImageTooLarge when Pillow's own bomb check caught it."""
    try:
        yield
    except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as error:
        raise ImageTooLarge("the image has too many pixels to decode safely") from error
    except Exception as error:
        raise InvalidImage(detail) from error
