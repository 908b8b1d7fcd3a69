"""The events service's settings; its `config.yml` is written from them."""
from typing import ClassVar

from contracts.media.urls import PUBLIC_BASE_URL
from shared.settings import (
    ConsumerSettings,
    OutboxSettings,
    ReadCacheSettings,
    database_url,
    metrics_address,
)


class EventsSettings(ConsumerSettings, OutboxSettings, ReadCacheSettings):
    service: ClassVar[str] = "events"
    METRICS_ADDRESS: str = metrics_address("events")

    DATABASE_URL: str = database_url("events")
    PUBLIC_BASE_URL: str = PUBLIC_BASE_URL  # the media URLs an event shows are on this base
