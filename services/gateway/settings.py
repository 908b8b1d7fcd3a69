"""The gateway's settings; its `config.yml` is written from them."""
import re
from typing import ClassVar

import limits
from pydantic import IPvAnyNetwork, field_validator

from shared import actors
from shared.settings import ReadCacheSettings, metrics_address, setting

DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"


class GatewaySettings(ReadCacheSettings):
    service: ClassVar[str] = "gateway"
    METRICS_ADDRESS: str = metrics_address("gateway")

    max_workers: int = setting(50, "concurrent HTTP requests in progress",
                               env="{SERVICE}_MAX_WORKERS", gt=0)
    WEB_SERVER_ADDRESS: str = setting("0.0.0.0:8000", "where the gateway listens",
                                      env="GATEWAY_ADDRESS")
    JWT_SECRET: str = setting(DEVELOPMENT_SECRET, "HS256 signing key of bearer tokens")
    ACTOR_SIGNING_KEY: str = setting(
        actors.DEVELOPMENT_SIGNING_KEY, "the key (base64 Ed25519) the gateway signs who acts with; "
        "its public key is every service's `ACTOR_PUBLIC_KEY`")
    TOKEN_LIFETIME_SECONDS: int = setting(3600, "a token's lifetime, in seconds", gt=0)
    HEALTH_TIMEOUT: float = setting(2, "seconds `GET /v1/health` waits for each service", gt=0)
    READ_CACHE_MAX_ENTRY_BYTES: int = setting(
        256 * 2**10, "largest answer the read cache keeps, in bytes (larger ones are asked "
        "each time); Redis's `maxmemory` bounds the whole", gt=0)
    GRANT_TIMEOUT: float = setting(
        10, "seconds creating or copying an event waits for its team", ge=0)
    MAX_JSON_BYTES: int = setting(2**20, "largest JSON body, in bytes (413 above)", gt=0)
    MAX_IMAGE_BYTES: int = setting(10 * 2**20, "largest image body, in bytes (413 above)", gt=0)
    MAX_CONNECTIONS: int = setting(
        1000, "client connections open at once; further ones wait in the listen backlog", gt=0)
    IDLE_TIMEOUT: float = setting(
        15, "seconds a connection may wait for its next request (its first included)", gt=0)
    SOCKET_TIMEOUT: float = setting(
        20, "seconds a client may stay silent while it sends a request or is answered", gt=0)
    BODY_TIMEOUT: float = setting(
        60, "seconds a request's whole body may take to arrive (408 after); read before a "
        "worker is taken", gt=0)
    CORS_ORIGINS: tuple[str, ...] = setting(
        (), "web origins (`https://app.example.org`) whose pages may call the API from a "
        "browser (CORS); none by default")
    TRUSTED_PROXIES: tuple[IPvAnyNetwork, ...] = setting(
        (), "addresses (or networks) of reverse proxies whose `X-Forwarded-For` names the "
        "client; none by default: the client is the connection's peer")
    RATE_LIMIT_STORAGE: str = setting(
        "redis://127.0.0.1:6379/0", "where the rate limits count, a `limits` storage URI: "
        "Redis, shared by every gateway process (`memory://` counts in each process alone)")
    RATE_LIMIT_KEY_PREFIX: str = setting("open-event", "the prefix of the rate limits' keys")
    RATE_LIMIT_TIMEOUT: float = setting(
        0.25, "seconds a rate limit waits for Redis (to connect, and to answer)", gt=0)
    RATE_LIMIT_SIGN_IN_ACCOUNT: str = setting(
        "10 per 5 minutes", "sign-ins of one email, right or wrong (`limits` notation)")
    RATE_LIMIT_SIGN_IN_ADDRESS: str = setting(
        "50 per 5 minutes", "sign-ins from one client address")
    RATE_LIMIT_SIGN_UP_ADDRESS: str = setting("20 per hour", "sign-ups from one client address")
    RATE_LIMIT_MAIL: str = setting(
        "5 per hour", "verification or password reset mails asked for one email")
    RATE_LIMIT_WRITE: str = setting(
        "120 per minute", "writes (POST, PUT, PATCH, DELETE) of one signed-in user")
    RATE_LIMIT_INVITE: str = setting("100 per hour", "role invites of one event")

    @field_validator("RATE_LIMIT_SIGN_IN_ACCOUNT", "RATE_LIMIT_SIGN_IN_ADDRESS",
                     "RATE_LIMIT_SIGN_UP_ADDRESS", "RATE_LIMIT_MAIL", "RATE_LIMIT_WRITE",
                     "RATE_LIMIT_INVITE")
    @classmethod
    def _a_rate_limit(cls, value):
        limits.parse(value)  # ValueError for anything but e.g. "10 per 5 minutes"
        return value

    @field_validator("CORS_ORIGINS")
    @classmethod
    def _origins(cls, value):
        for origin in value:  # a browser's Origin: scheme://host[:port], nothing after
            if not re.fullmatch(r"https?://[^/?#\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin such as https://app.example.org")
        return value

    @field_validator("ACTOR_SIGNING_KEY")
    @classmethod
    def _a_real_signing_key(cls, value, info):
        actors.private_key(value)
        if (value == actors.DEVELOPMENT_SIGNING_KEY
                and info.data.get("ENVIRONMENT", "production") == "production"):
            raise ValueError("the development key is refused in production: set your own")
        return value
