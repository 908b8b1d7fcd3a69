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

Memory: the limits are checked from the header (`check`), before any pixel
is decoded; an upload then holds one full-size decode (up to 4 bytes a
pixel) and no whole copy of it: the EXIF orientation is applied in place,
the original encoded from the decoded pixels, and the renditions made from
a smaller source, three times the largest rendition. A JPEG's is a second
decode at 1/2, 1/4 or 1/8 of its size (Pillow's draft mode: libjpeg's
scaled decoding); another format's is reduced a band of rows at a time
(Pillow would convert the whole image to reduce it: RGBA to premultiplied
alpha, a palette to RGBA).

Decoding is CPU work; under eventlet, call `prepare` in a native thread,
bounded (`shared.bounded`), as the roles service hashes passwords.
"""
import io
import math
from contextlib import contextmanager, suppress
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
_REDUCING_GAP = 3.0  # a rendition's source: at least this many times the rendition (as resize)
_BAND_ROWS = 256  # rows reduced at a time, times the factor
_SMOOTH = ("L", "LA", "RGB", "RGBA")  # modes that resize smoothly as they are


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
    prepared = {"original": _encode(image, image.format)}
    if renditions:
        size, fmt = image.size, image.format
        scale = _REDUCING_GAP * max(_scale(size, box) for box in RENDITIONS.values())
        if fmt == "JPEG":  # decoded again, smaller: only the renditions need it now
            image = decode(data, max_bytes, max_pixels, scale=scale)
        source = _reduced(image, scale * size[0] / image.width)  # of what was decoded
        prepared |= {name: _encode(_shrunk(source, _fitted(size, box)), fmt)
                     for name, box in RENDITIONS.items()}
    return prepared


def check(data, max_bytes, max_pixels):
    """The image in `data`, opened but not decoded; its `format` is a key of
    FORMATS. ImageTooLarge for over `max_bytes` bytes (checked before
    anything is read) or over `max_pixels` pixels (read from the header);
    InvalidImage for a format not accepted, or bytes that are no image."""
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
    opened.format = fmt
    return opened


def decode(data, max_bytes, max_pixels, scale=1):
    """The image in `data` (`check`ed first), fully loaded and upright, with
    nothing of its info but the transparency its pixels need. With `scale`
    below 1, a JPEG is decoded smaller, but not below `scale` of its size
    (draft mode: 1/2, 1/4 or 1/8).

    Raises what `check` raises, and InvalidImage for anything else that is
    not a whole image in an accepted format. No other error escapes,
    whatever the bytes.
    """
    image = check(data, max_bytes, max_pixels)
    if scale < 1 and image.format == "JPEG":
        image.draft(None, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    with _refused_as(f"the {image.format} image is truncated or corrupt"):
        image.load()
    _upright(image)
    image.info = {key: value for key, value in image.info.items() if key == "transparency"}
    return image


def _scale(size, box):
    """The scale that fits `size` (width, height) inside `box`, never above 1."""
    return min(box[0] / size[0], box[1] / size[1], 1)


def _fitted(size, box):
    """`size` fitted inside `box`, keeping its aspect ratio, never enlarged."""
    scale = _scale(size, box)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _shrunk(image, size):
    return image.resize(size, PIL.Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)


def _reduced(image, scale):
    """`image` in a mode that resizes smoothly (`_resizable`), reduced by the
    largest whole factor that keeps it at least `scale` of its size, a band
    of rows at a time: no copy of the whole image is made."""
    factor = max(1, math.floor(1 / scale))
    if factor == 1 and image.mode in _SMOOTH:
        return image
    rows = factor * _BAND_ROWS
    bands = [_resizable(image.crop((0, top, image.width, min(top + rows, image.height))))
             .reduce(factor) for top in range(0, image.height, rows)]
    reduced = PIL.Image.new(bands[0].mode, (bands[0].width, sum(band.height for band in bands)))
    for number, band in enumerate(bands):
        reduced.paste(band, (0, number * _BAND_ROWS))
    return reduced


def _upright(image):
    """Turn `image` in place as its EXIF orientation says; left as it is when
    that EXIF is unreadable: it is dropped anyway, the pixels are fine."""
    with suppress(Exception):
        PIL.ImageOps.exif_transpose(image, in_place=True)


def _resizable(image):
    """`image` in a mode that resizes smoothly (a palette or 1-bit image would
    be resized nearest-neighbour; 16-bit grey would clip to white)."""
    if image.mode in _SMOOTH:
        return image
    if image.mode in ("I", "I;16"):
        return image.convert("I").point(lambda value: value / 256).convert("L")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _encode(image, fmt):
    """`image` (decoded, its info stripped) encoded as `fmt` (a key of
    FORMATS) from its pixels alone; a GIF becomes a PNG."""
    fmt = _STORED_AS.get(fmt, fmt)
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
