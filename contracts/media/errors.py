"""The media service's errors; each crosses RPC as itself (shared.errors).
It also raises `contracts.errors.AccessDenied` and `EventNotFound`."""
from shared.errors import InvalidInput, NotFound, Unavailable


class InvalidImage(InvalidInput):
    """Not an image, a format the service does not accept, or truncated or corrupt."""

    code = "invalid_image"


class ImageTooLarge(InvalidInput):
    """Over the byte limit, or over the pixel limit (a decompression bomb)."""

    code = "image_too_large"


class ImagesBusy(Unavailable):
    """Too many uploads are being decoded or waiting to be
    (`MEDIA_DECODES_AT_ONCE`, `_WAITING`): refused at once, so that they
    never take the workers that serve images. Try again after
    `Retry-After`."""

    code = "images_busy"


class UnknownSlot(InvalidInput):
    code = "unknown_slot"


class InvalidMediaData(InvalidInput):
    code = "invalid_input"


class MediaNotFound(NotFound):
    code = "media_not_found"


class SponsorNotFound(NotFound):
    code = "sponsor_not_found"
