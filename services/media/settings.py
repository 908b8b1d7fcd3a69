"""The media service's settings; its `config.yml` is written from them."""
from typing import ClassVar, Literal

from pydantic import model_validator

from contracts.media.urls import PUBLIC_BASE_URL
from shared.bounded import leaves_workers
from shared.settings import (
    Blank,
    ConsumerSettings,
    OutboxSettings,
    database_url,
    metrics_address,
    setting,
)

# for development and tests only (a local MinIO or moto): production refuses the secret
DEVELOPMENT_S3_ACCESS_KEY_ID = "media-development"
DEVELOPMENT_S3_SECRET = "development-only-s3-secret"


class MediaSettings(ConsumerSettings, OutboxSettings):
    service: ClassVar[str] = "media"
    METRICS_ADDRESS: str = metrics_address("media")

    DATABASE_URL: str = database_url("media")
    MEDIA_BACKEND: Literal["local", "s3"] = setting(
        "local", "where blobs live: `local` (files under MEDIA_ROOT) or `s3` (a bucket on any"
        " S3-compatible store: AWS S3, MinIO, Ceph)")
    MEDIA_ROOT: str = setting("var/media", "where the local backend keeps blobs")
    MEDIA_S3_ENDPOINT: Blank = setting(
        "", "the S3 backend's endpoint URL (`http://127.0.0.1:9000` for a MinIO); empty: AWS's,"
        " by region")
    MEDIA_S3_BUCKET: str = setting("media", "the S3 backend's bucket (it must exist)")
    MEDIA_S3_REGION: str = setting("us-east-1", "the S3 backend's region")
    MEDIA_S3_PATH_STYLE: bool = setting(
        False, "path-style addressing (`endpoint/bucket/key`, as MinIO is usually reached)"
        " instead of virtual-hosted (`bucket.endpoint/key`)")
    MEDIA_S3_ACCESS_KEY_ID: Blank = setting(
        DEVELOPMENT_S3_ACCESS_KEY_ID, "the S3 backend's access key; empty, with an empty secret:"
        " boto3 finds credentials itself (AWS_* variables, an instance or pod role)")
    MEDIA_S3_SECRET_ACCESS_KEY: Blank = setting(
        DEVELOPMENT_S3_SECRET, "the S3 backend's secret key; production refuses the development"
        " one")
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
    def _own_s3_secret(self):
        if (self.is_production and self.MEDIA_BACKEND == "s3"
                and self.MEDIA_S3_SECRET_ACCESS_KEY == DEVELOPMENT_S3_SECRET):
            raise ValueError("MEDIA_S3_SECRET_ACCESS_KEY is the development secret, refused in"
                             " production (ENVIRONMENT): set the store's own")
        return self

    @model_validator(mode="after")
    def _workers_left(self):
        return leaves_workers(self, "MEDIA_DECODES_AT_ONCE", "MEDIA_DECODES_WAITING")
