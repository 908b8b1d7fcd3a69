"""The media service's settings; its `config.yml` is written from them."""
from typing import ClassVar

from contracts.media.urls import PUBLIC_BASE_URL
from shared.settings import ConsumerSettings, OutboxSettings, database_url, setting


class MediaSettings(ConsumerSettings, OutboxSettings):
    service: ClassVar[str] = "media"

    DATABASE_URL: str = database_url("media")
    MEDIA_ROOT: str = setting("var/media", "where the local backend keeps blobs")
    PUBLIC_BASE_URL: str = PUBLIC_BASE_URL
    MEDIA_MAX_BYTES: int = setting(10 * 2**20, "largest upload, in bytes", gt=0)
    MEDIA_MAX_PIXELS: int = setting(40_000_000, "largest image, in pixels (decompression bombs)",
                                    gt=0)
    GC_GRACE_SECONDS: float = setting(
        3600, "seconds before `make media-gc` collects retired records and unreferenced blobs",
        ge=0)
