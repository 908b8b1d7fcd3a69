"""The roles service's settings; its `config.yml` is written from them."""
from typing import ClassVar

import argon2
from pydantic import model_validator

from shared.bounded import leaves_workers
from shared.settings import (
    ConsumerSettings,
    OutboxSettings,
    ReadCacheSettings,
    database_url,
    metrics_address,
    setting,
)


class RolesSettings(ConsumerSettings, OutboxSettings, ReadCacheSettings):
    service: ClassVar[str] = "roles"
    METRICS_ADDRESS: str = metrics_address("roles")

    DATABASE_URL: str = database_url("roles")
    INVITE_TTL_DAYS: float = setting(7, "how long a role invite stays valid, in days", gt=0)
    VERIFY_LINK_TTL_HOURS: float = setting(
        48, "how long a mailed email verification link stays valid, in hours", gt=0)
    RESET_LINK_TTL_MINUTES: float = setting(
        60, "how long a mailed password reset link stays valid, in minutes; a reset asked"
        " for longer ago is no longer mailed", gt=0)
    MAIL_INTERVAL_SECONDS: float = setting(
        60, "least time, in seconds, between two verification (or two password reset) mails"
        " a user asks for", ge=0)
    GRANT_TIMEOUT: float = setting(
        10, "longest wait, in seconds, of `roles.await_event` for an event's team", ge=0)
    PASSWORD_TIME_COST: int = setting(
        argon2.DEFAULT_TIME_COST,
        "argon2id time cost, by default argon2-cffi's (RFC 9106 low-memory profile); stored"
        " hashes are upgraded at the next sign-in", gt=0)
    PASSWORD_MEMORY_KIB: int = setting(argon2.DEFAULT_MEMORY_COST,
                                       "argon2id memory cost, in KiB (argon2-cffi's default)",
                                       gt=0)
    PASSWORD_HASHES_AT_ONCE: int = setting(
        2, "password hashes (sign-in, sign-up, password change) run at once, each in a native"
        " thread with PASSWORD_MEMORY_KIB of memory", gt=0)
    PASSWORD_HASHES_WAITING: int = setting(
        4, "password hashes that may wait for a turn; one more is refused at once (503"
        " `passwords_busy`), so hashing holds at most the two counts of the workers", ge=0)

    @model_validator(mode="after")
    def _workers_left(self):
        return leaves_workers(self, "PASSWORD_HASHES_AT_ONCE", "PASSWORD_HASHES_WAITING")
