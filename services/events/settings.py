"""The events service's settings; its `config.yml` is written from them."""
from typing import ClassVar

from shared.settings import ConsumerSettings, OutboxSettings, database_url


class EventsSettings(ConsumerSettings, OutboxSettings):
    service: ClassVar[str] = "events"

    DATABASE_URL: str = database_url("events")
