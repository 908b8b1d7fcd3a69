"""The roles service's settings; its `config.yml` is written from them."""
from typing import ClassVar

import argon2

from shared.settings import ConsumerSettings, OutboxSettings, database_url, setting


class RolesSettings(ConsumerSettings, OutboxSettings):
    service: ClassVar[str] = "roles"

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
