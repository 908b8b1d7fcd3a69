"""The acting user, proven: a short-lived assertion the gateway signs.

The gateway checks a user's bearer token, then signs an assertion of the
actor (an EdDSA JWT: `sub` the user id, `rid` the request id, `exp` a few
seconds away) and puts it into the worker's context data under `actor`.
nameko sends a worker's context data with every RPC call it makes, so the
assertion reaches each service the request touches, and their onward calls
forward it unchanged. A service verifies it with the gateway's public key
and takes the actor from it, never from an argument: `self.actor.id`.
A message handler acts as its own service and carries no actor.

Keys are Ed25519, written as the base64 of their 32 raw bytes
(`python -m shared.actors` makes a pair). Only the gateway holds the
signing key; every other service holds the public key alone, so no
service can act for a user the gateway did not vouch for.
"""
import base64
import binascii
import time

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nameko.extensions import DependencyProvider

from shared.context import REQUEST_ID_KEY
from shared.errors import PermissionDenied
from shared.ids import as_id

ACTOR_KEY = "actor"  # in nameko context data
# for development and tests only: a service in production refuses them
DEVELOPMENT_SIGNING_KEY = "vBc21HTdl0LfPhINKX0uRGYCKMPukYbkHhjxve/9v6M="
DEVELOPMENT_PUBLIC_KEY = "gC5hcHCfunKpLLu9cCp9AvNJlBvhxnNYcOGm0vSFx1s="
ALGORITHM = "EdDSA"
LIFETIME_SECONDS = 30
LEEWAY_SECONDS = 2


class ActorNotProven(PermissionDenied):
    """The call carries no valid assertion of who acts: none, expired,
    signed by another key, or made for another request."""

    code = "actor_not_proven"


def private_key(encoded):
    return Ed25519PrivateKey.from_private_bytes(_raw(encoded, "signing"))


def public_key(encoded):
    return Ed25519PublicKey.from_public_bytes(_raw(encoded, "public"))


def _raw(encoded, which):
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"the actor {which} key must be the base64 of 32 bytes")
    return raw


def new_key_pair():
    """`(signing key, public key)`, each as base64."""
    key = Ed25519PrivateKey.generate()
    raw_private = key.private_bytes_raw()
    raw_public = key.public_key().public_bytes_raw()
    return base64.b64encode(raw_private).decode(), base64.b64encode(raw_public).decode()


def public_of(signing_key):
    """The public key (base64) of a signing key (base64)."""
    return base64.b64encode(private_key(signing_key).public_key().public_bytes_raw()).decode()


class DevelopmentKeyRefused(Exception):
    """A service in production was given a development key."""


class ActorSigner:
    def __init__(self, signing_key, lifetime=LIFETIME_SECONDS):
        self._key = private_key(signing_key)
        self._lifetime = lifetime

    def sign(self, user_id, request_id):
        now = int(time.time())
        claims = {"sub": str(user_id), "rid": request_id, "iat": now, "exp": now + self._lifetime}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class ActorVerifier:
    def __init__(self, public_key_b64):
        self._key = public_key(public_key_b64)

    def user_id(self, assertion, request_id):
        """The user the assertion vouches for in request `request_id`,
        else ActorNotProven."""
        if not isinstance(assertion, str):
            raise ActorNotProven("no proof of who acts: call through the gateway")
        try:
            claims = jwt.decode(assertion, self._key, algorithms=[ALGORITHM],
                                leeway=LEEWAY_SECONDS,
                                options={"require": ["sub", "rid", "exp", "iat"]})
        except jwt.ExpiredSignatureError:
            raise ActorNotProven("the proof of who acts has expired") from None
        except jwt.InvalidTokenError:
            raise ActorNotProven("the proof of who acts is not valid") from None
        if claims["rid"] != request_id:
            raise ActorNotProven("the proof of who acts was made for another request")
        user_id = as_id(claims["sub"])
        if user_id is None:
            raise ActorNotProven("the proof of who acts names no user")
        return user_id


class Actor(DependencyProvider):
    """`self.actor.id`: the proven acting user of the call (ActorNotProven
    if the call carries no valid assertion)."""

    def setup(self):
        from shared.settings import ServiceSettings, settings_of  # they name our keys

        settings = settings_of(self.container, ServiceSettings)
        if settings.is_production and settings.ACTOR_PUBLIC_KEY == DEVELOPMENT_PUBLIC_KEY:
            raise DevelopmentKeyRefused(
                "ACTOR_PUBLIC_KEY is the development key, which production refuses: "
                "set the public key of the gateway's ACTOR_SIGNING_KEY")
        self.verifier = ActorVerifier(settings.ACTOR_PUBLIC_KEY)

    def get_dependency(self, worker_ctx):
        return ProvenActor(self.verifier, worker_ctx.context_data)


class ProvenActor:
    def __init__(self, verifier, context_data):
        self._verifier = verifier
        self._context = context_data

    @property
    def id(self):
        return self._verifier.user_id(self._context.get(ACTOR_KEY),
                                      self._context.get(REQUEST_ID_KEY))



if __name__ == "__main__":
    signing, public = new_key_pair()
    print(f"ACTOR_SIGNING_KEY={signing}\nACTOR_PUBLIC_KEY={public}")
