"""Password hashing with argon2id, off the event loop.

Hashing is deliberately slow CPU work; under eventlet it would stall every
worker of the service, so it runs in eventlet's native thread pool (argon2
releases the GIL). Verifying against an unknown user still hashes once, so
an unknown email and a wrong password take the same time.
"""
import argon2
from eventlet import tpool
from nameko.extensions import DependencyProvider

from services.roles.settings import RolesSettings
from shared.settings import settings_of


class PasswordHasher:
    def __init__(self, time_cost, memory_kib):
        self._hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._decoy = self._hasher.hash("a password nobody has")

    def hash(self, password):
        return tpool.execute(self._hasher.hash, password)

    def verify(self, password_hash, password):
        """True if `password` matches `password_hash`; without a hash
        (unknown user) it costs the same and is False."""
        known = bool(password_hash)
        try:
            matches = tpool.execute(self._hasher.verify,
                                    password_hash if known else self._decoy, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        return matches and known

    def needs_rehash(self, password_hash):
        """True once the configured cost differs from the hash's."""
        return self._hasher.check_needs_rehash(password_hash)


class Passwords(DependencyProvider):
    """A `PasswordHasher` with the cost from `PASSWORD_TIME_COST` and
    `PASSWORD_MEMORY_KIB`, built once per container."""

    def setup(self):
        settings = settings_of(self.container, RolesSettings)
        self.hasher = PasswordHasher(time_cost=settings.PASSWORD_TIME_COST,
                                     memory_kib=settings.PASSWORD_MEMORY_KIB)

    def get_dependency(self, worker_ctx):
        return self.hasher
