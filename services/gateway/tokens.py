"""Bearer tokens: JWTs signed with HS256, carrying `sub` (the user id),
`sid` (the sign-in it belongs to, a session of the roles service), `iat`
and `exp`.

A token is refused (Unauthenticated) when it is missing, expired, signed
with another secret or another algorithm (`none` included), or lacks a
claim; and, by the route that reads it, when its session has ended
(`roles.check_session`: signed out, password changed or reset).

A token's signature is checked once: the claims of the last
`TOKENS_KEPT` good tokens are kept (a few MB at most), and each use checks
only their expiry again.

The secret fails closed: outside an explicit `development` or `test`
ENVIRONMENT the gateway refuses to start on the development secret or a
weak one (`weakness`), with one line saying why.
"""
import math
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import jwt
from nameko.extensions import DependencyProvider

from services.gateway.exceptions import Unauthenticated
from services.gateway.settings import DEVELOPMENT_SECRET, GatewaySettings
from shared.ids import as_id
from shared.settings import settings_of

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
MIN_BITS_PER_CHARACTER = 3.0
ADVICE = "make one with `openssl rand -hex 32`"
TOKENS_KEPT = 8192


class WeakSecret(SystemExit):
    """A production setting with the development secret or a weak one.

    A SystemExit: `nameko run` stops with status 1 and prints this one line,
    where an Exception raised by an extension's setup would print a
    traceback for every route that set up. (Not nameko's ConfigurationError
    either: `nameko run` prints that one and exits with status 0, so a
    supervisor would not notice.)"""


@dataclass(frozen=True)
class TokenCodec:
    secret: str
    lifetime: int

    def issue(self, user_id, session_id):
        """`{access_token, token_type, expires_in}` for the user's sign-in."""
        now = int(time.time())
        claims = {"sub": str(user_id), "sid": session_id, "iat": now,
                  "exp": now + self.lifetime}
        return {"access_token": jwt.encode(claims, self.secret, algorithm=ALGORITHM),
                "token_type": "bearer", "expires_in": self.lifetime}

    def signed_in(self, authorization):
        """`(user id, session id)` an `Authorization: Bearer …` header value
        names, once its signature and lifetime are good."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("sign in: send 'Authorization: Bearer <token>'")
        user_id, session_id, expires = _signed_claims(self.secret, token.strip())
        if expires <= time.time():
            raise Unauthenticated("the token has expired: sign in again")
        return user_id, session_id


@lru_cache(maxsize=TOKENS_KEPT)
def _signed_claims(secret, token):
    """`(user id, session id, exp)` of a token signed with `secret`, its
    expiry not checked (the caller checks it at each use); Unauthenticated
    for a bad one (never kept)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["sub", "sid", "iat", "exp"],
                                     "verify_exp": False})
    except jwt.InvalidTokenError:
        raise Unauthenticated("the token is not valid") from None
    user_id, session_id, expires = as_id(claims["sub"]), claims["sid"], claims["exp"]
    if user_id is None or not isinstance(session_id, str) or not isinstance(expires, int):
        raise Unauthenticated("the token is not valid")
    return user_id, session_id, expires


def codec_from(settings):
    """The codec the gateway's settings describe; WeakSecret for a
    production setting with a weak or development secret."""
    secret = settings.JWT_SECRET
    if settings.is_production and (problem := weakness(secret)):
        raise WeakSecret(f"JWT_SECRET refused: {problem}; {ADVICE}")
    return TokenCodec(secret, settings.TOKEN_LIFETIME_SECONDS)


def weakness(secret):
    """Why `secret` is too weak to sign tokens with, or None.

    Refused: the development secret (it is in the repository); fewer than
    32 bytes (HS256's key is 256 bits); and fewer than 3 bits of Shannon
    entropy per character, counted over the secret's own characters – a
    word repeated, one character run on, a few characters cycled. A
    random secret clears that bar: base64 has 6 bits a character and
    hex 4, and their measured entropy stays above 3 bits (of 100,000
    random 64-digit hex secrets none fell below 3.38; of 32-digit ones,
    1 in 10,000 falls just short, and is refused with the advice to make
    another). Entropy cannot tell a random secret from a well-mixed
    phrase: this catches the lazy ones, not every weak one.
    """
    if secret == DEVELOPMENT_SECRET:
        return "it is the development secret, which is in the repository"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"it has {len(secret.encode())} bytes, fewer than {MIN_SECRET_BYTES}"
    bits = bits_per_character(secret)
    if bits < MIN_BITS_PER_CHARACTER:
        return (f"it is too predictable ({bits:.1f} bits of entropy per character,"
                f" fewer than {MIN_BITS_PER_CHARACTER:.0f})")
    return None


def bits_per_character(text):
    """The Shannon entropy of `text`'s character frequencies, in bits."""
    counts = Counter(text).values()
    return sum(count / len(text) * math.log2(len(text) / count) for count in counts)


class Tokens(DependencyProvider):
    """The token codec, checked when the service starts."""

    def setup(self):
        self.codec = codec_from(settings_of(self.container, GatewaySettings))

    def get_dependency(self, worker_ctx):
        return self.codec
