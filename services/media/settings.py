"""The media service's settings; its `config.yml` is written from them."""
from typing import ClassVar

from pydantic import model_validator

from contracts.media.urls import PUBLIC_BASE_URL
from shared.bounded import leaves_workers
from shared.settings import ConsumerSettings, OutboxSettings, database_url, setting


class MediaSettings(ConsumerSettings, OutboxSettings):
    service: ClassVar[str] = "media"

    DATABASE_URL: str = database_url("media")
    MEDIA_ROOT: str = setting("var/media", "where the local backend keeps blobs")
    PUBLIC_BASE_URL: str = PUBLIC_BASE_URL
    MEDIA_MAX_BYTES: int = setting(10 * 2**20, "largest upload, in bytes", gt=0)
    MEDIA_MAX_PIXELS: int = setting(
        24_000_000, "largest image, in pixels (a 6000x4000 camera's; decompression bombs):"
        " decoded, 4 bytes a pixel at most", gt=0)
    MEDIA_DECODES_AT_ONCE: int = setting(
        2, "uploads decoded at once in one media process (each up to MEDIA_MAX_PIXELS x 4"
        " bytes)", gt=0)
    MEDIA_DECODES_WAITING: int = setting(
        4, "uploads that may wait for a decode; one more is refused at once (503"
        " `images_busy`), so uploads hold at most the two counts of the workers", ge=0)
    GC_GRACE_SECONDS: float = setting(
        3600, "seconds before `make media-gc` collects retired records and unreferenced blobs",
        ge=0)

    @model_validator(mode="after")
    def _workers_left(self):
        return leaves_workers(self, "MEDIA_DECODES_AT_ONCE", "MEDIA_DECODES_WAITING")
