"""The gateway's settings; its `config.yml` is written from them."""
from typing import ClassVar

from pydantic import field_validator

from shared import actors
from shared.settings import ServiceSettings, setting

DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"


class GatewaySettings(ServiceSettings):
    service: ClassVar[str] = "gateway"

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
    PERMISSION_CACHE_SECONDS: float = setting(
        0, 'seconds the gateway reuses a "yes" of `roles.has_access` (never a "no"); above 0'
        " a removed member keeps reading for that long", ge=0)
    GRANT_TIMEOUT: float = setting(
        10, "seconds creating or copying an event waits for its team", ge=0)
    MAX_JSON_BYTES: int = setting(2**20, "largest JSON body, in bytes (413 above)", gt=0)
    MAX_IMAGE_BYTES: int = setting(10 * 2**20, "largest image body, in bytes (413 above)", gt=0)

    @field_validator("ACTOR_SIGNING_KEY")
    @classmethod
    def _a_real_signing_key(cls, value, info):
        actors.private_key(value)
        if (value == actors.DEVELOPMENT_SIGNING_KEY
                and info.data.get("ENVIRONMENT", "production") == "production"):
            raise ValueError("the development key is refused in production: set your own")
        return value
