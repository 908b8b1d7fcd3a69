"""Password hashing with argon2id, off the event loop and bounded.

Hashing is deliberately slow CPU and memory work; under eventlet it would
stall every worker of the service, so it runs in native threads (argon2
releases the GIL), at most `PASSWORD_HASHES_AT_ONCE` at a time and with at
most `PASSWORD_HASHES_WAITING` more waiting; the next is refused at once
with `PasswordsBusy` (`shared.bounded`). A flood of sign-ins therefore holds
a few of the service's workers, never those that answer `has_access`.
Verifying against an unknown user still hashes once, so an unknown email
and a wrong password take the same time.
"""
import argon2
from nameko.extensions import DependencyProvider

from contracts.roles.errors import PasswordsBusy
from services.roles.settings import RolesSettings
from shared.bounded import BoundedPool
from shared.settings import settings_of


class PasswordHasher:
    def __init__(self, time_cost, memory_kib, pool):
        self._hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._decoy = self._hasher.hash("a password nobody has")
        self._pool = pool

    def hash(self, password):
        return self._pool.run(self._hasher.hash, password)

    def verify(self, password_hash, password):
        """True if `password` matches `password_hash`; without a hash
        (unknown user) it costs the same and is False."""
        known = bool(password_hash)
        try:
            matches = self._pool.run(self._hasher.verify,
                                     password_hash if known else self._decoy, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        return matches and known

    def needs_rehash(self, password_hash):
        """True once the configured cost differs from the hash's."""
        return self._hasher.check_needs_rehash(password_hash)


class Passwords(DependencyProvider):
    """A `PasswordHasher` with the cost from `PASSWORD_TIME_COST` and
    `PASSWORD_MEMORY_KIB` and its bounds from `PASSWORD_HASHES_AT_ONCE` and
    `PASSWORD_HASHES_WAITING`, built once per container."""

    def setup(self):
        settings = settings_of(self.container, RolesSettings)
        pool = BoundedPool(settings.PASSWORD_HASHES_AT_ONCE, settings.PASSWORD_HASHES_WAITING,
                           busy=PasswordsBusy)
        self.hasher = PasswordHasher(time_cost=settings.PASSWORD_TIME_COST,
                                     memory_kib=settings.PASSWORD_MEMORY_KIB, pool=pool)

    def get_dependency(self, worker_ctx):
        return self.hasher
