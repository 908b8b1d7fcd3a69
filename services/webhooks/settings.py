"""The webhooks service's settings; its `config.yml` is written from them."""
from typing import ClassVar

from pydantic import NonNegativeFloat, model_validator

from shared.settings import (
    ConsumerSettings,
    OutboxSettings,
    database_url,
    metrics_address,
    setting,
)

DAY = 24 * 3600


class WebhooksSettings(ConsumerSettings, OutboxSettings):
    service: ClassVar[str] = "webhooks"

    METRICS_ADDRESS: str = metrics_address("webhooks")
    DATABASE_URL: str = database_url("webhooks")
    WEBHOOK_ALLOW_HTTP: bool = setting(
        False, "take `http://` URLs too (tests, `make run`); production refuses it")
    WEBHOOK_ALLOW_LOOPBACK: bool = setting(
        False, "post to loopback addresses too (tests, `make run`); production refuses it;"
        " private, link-local and metadata addresses are refused always")
    WEBHOOK_TIMEOUT: float = setting(
        5, "seconds a receiver has to connect and answer, in all", gt=0)
    WEBHOOK_MAX_ANSWER_BYTES: int = setting(
        4096, "bytes of a receiver's answer read (and kept, up to 500, in the log)", gt=0)
    WEBHOOK_RETRY_DELAYS: tuple[NonNegativeFloat, ...] = setting(
        (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800),
        "seconds before each retry of a failed delivery (each with up to ±20 % jitter;"
        " about a day in all); then the delivery is failed", min_length=1)
    WEBHOOK_DISABLE_AFTER: float = setting(
        3 * DAY, "seconds an endpoint may fail every delivery before it is disabled and"
        " `webhook.disabled` published (the event's owner is mailed)", gt=0)
    WEBHOOK_SENDERS: int = setting(
        20, "deliveries under way at once in one webhooks process; one endpoint takes one at"
        " a time", gt=0)
    WEBHOOK_POLL_INTERVAL: float = setting(
        1.0, "seconds; the delivery loop's fallback poll (a new delivery wakes it by `NOTIFY`)",
        gt=0)

    @model_validator(mode="after")
    def _safe_in_production(self):
        if self.is_production and (self.WEBHOOK_ALLOW_HTTP or self.WEBHOOK_ALLOW_LOOPBACK):
            raise ValueError("WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_LOOPBACK are refused in"
                             " production (ENVIRONMENT)")
        return self
