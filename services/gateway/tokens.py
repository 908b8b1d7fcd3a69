"""Bearer tokens: JWTs signed with HS256, carrying `sub` (the user id),
`iat` and `exp`.

A token is refused (Unauthenticated) when it is missing, expired, signed
with another secret or another algorithm (`none` included), or lacks a
claim. In production the development secret, or any secret shorter than
32 bytes, refuses to start the gateway.
"""
import time
from dataclasses import dataclass

import jwt
from nameko.extensions import DependencyProvider

from services.gateway.exceptions import Unauthenticated
from services.gateway.settings import DEVELOPMENT_SECRET, GatewaySettings
from shared.ids import as_id
from shared.settings import settings_of

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


class WeakSecret(Exception):
    """A production setting with the development secret or a short one.
    (Not nameko's ConfigurationError: `nameko run` prints that one and
    exits with status 0, so a supervisor would not notice.)"""


@dataclass(frozen=True)
class TokenCodec:
    secret: str
    lifetime: int

    def issue(self, user_id):
        """`{access_token, token_type, expires_in}` for the user."""
        now = int(time.time())
        claims = {"sub": str(user_id), "iat": now, "exp": now + self.lifetime}
        return {"access_token": jwt.encode(claims, self.secret, algorithm=ALGORITHM),
                "token_type": "bearer", "expires_in": self.lifetime}

    def user_id(self, authorization):
        """The user id an `Authorization: Bearer …` header value proves."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("sign in: send 'Authorization: Bearer <token>'")
        try:
            claims = jwt.decode(token.strip(), self.secret, algorithms=[ALGORITHM],
                                options={"require": ["sub", "iat", "exp"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired: sign in again") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("the token is not valid") from None
        user_id = as_id(claims["sub"])
        if user_id is None:
            raise Unauthenticated("the token is not valid")
        return user_id


def codec_from(settings):
    """The codec the gateway's settings describe; WeakSecret for a
    production setting with a weak or development secret."""
    secret = settings.JWT_SECRET
    if settings.ENVIRONMENT == "production" and (
        secret == DEVELOPMENT_SECRET or len(secret.encode()) < MIN_SECRET_BYTES
    ):
        raise WeakSecret(
            f"JWT_SECRET: production needs a secret of its own, at least {MIN_SECRET_BYTES} bytes"
        )
    return TokenCodec(secret, settings.TOKEN_LIFETIME_SECONDS)


class Tokens(DependencyProvider):
    """The token codec, checked when the service starts."""

    def setup(self):
        self.codec = codec_from(settings_of(self.container, GatewaySettings))

    def get_dependency(self, worker_ctx):
        return self.codec
