"""The notifications service's settings; its `config.yml` is written from them."""
from typing import ClassVar, Literal

from pydantic import field_validator

from contracts.media.urls import PUBLIC_BASE_URL
from shared.settings import (
    Blank,
    ConsumerSettings,
    DatabaseSettings,
    database_url,
    metrics_address,
    setting,
)


class NotificationsSettings(ConsumerSettings, DatabaseSettings):
    service: ClassVar[str] = "notifications"
    METRICS_ADDRESS: str = metrics_address("notifications")

    DATABASE_URL: str = database_url("notifications")
    PUBLIC_BASE_URL: str = PUBLIC_BASE_URL  # the mailed links are on this base too
    SMTP_HOST: str = setting("127.0.0.1", "the mail server the service sends through (SMTP)")
    SMTP_PORT: int = setting(1025, "its port (1025: maildev, `make mail-catcher`)", gt=0,
                             le=65535)
    SMTP_TLS: Literal["none", "starttls", "tls"] = setting(
        "none", "`none`, `starttls` (upgrade the connection) or `tls` (TLS from the start);"
        " the server's certificate is verified")
    SMTP_USER: Blank = setting("", "the login at the mail server; empty: none")
    SMTP_PASSWORD: Blank = setting(
        "", "its password, from the environment; production refuses a login over `SMTP_TLS`"
        " `none`", repr=False)
    SMTP_TIMEOUT: float = setting(10, "seconds a mail server may take to answer", gt=0)
    MAIL_FROM: str = setting("Open Event <no-reply@localhost>", "the mails' sender (`From`)")

    @field_validator("SMTP_PASSWORD")
    @classmethod
    def _login_fails_closed(cls, value, info):
        """A login needs both halves, and in production a connection that
        does not send them in the clear."""
        user = info.data.get("SMTP_USER", "")
        if bool(user) != bool(value):
            raise ValueError("SMTP_USER and SMTP_PASSWORD go together: set both, or neither")
        if (user and info.data.get("SMTP_TLS") == "none"
                and info.data.get("ENVIRONMENT", "production") == "production"):
            raise ValueError("a login over SMTP_TLS none would cross the network in the clear:"
                             " refused in production (set SMTP_TLS starttls or tls)")
        return value
