"""The read cache's freshness: versions in Redis that the services owning
the data change when they change it, and that every cached answer is
stamped with.

The gateway keeps answers of the events and roles services in Redis
(`services.gateway.reads`), each stamped with the versions of what it was
read from: an event (`event_version`, its fields and its children), a
team (`team_version`), a user (`user_version`: sign-ins, admin, the
events they hold a role on) and the lists of events (`LISTING`). An
answer whose stamp is not every one of those versions as they are now is
not served.

The owner marks what a transaction changes (`stale(session, key, …)`);
once the transaction has committed, and before the change is answered or
its message acknowledged, `Versions.bump` gives each key a new random
version. So once a change is acknowledged no gateway process serves an
answer read before it: a read that raced the change was stamped with the
version before, and a version is never used twice (random, not a
counter, so an evicted or expired version key cannot come back as one
that stamped an old answer).

A bump that fails (Redis away from the owner but not from the gateway)
is logged and counted; the answers it should have retired are served at
most until they expire (`READ_CACHE_SECONDS`).
"""
import logging
import secrets

import redis

log = logging.getLogger(__name__)

STALE = "read_cache.stale"  # session.info key: the versions a transaction changes
VERSION_SECONDS = 7 * 24 * 3600  # a version outlives every answer stamped with it
LISTING = "v:listing"  # the lists of events: any event created, changed or deleted


def event_version(event_id):
    return f"v:event:{event_id}"


def team_version(event_id):
    return f"v:team:{event_id}"


def user_version(user_id):
    return f"v:user:{user_id}"


def stale(session, *keys):
    """Mark version `keys` to be bumped once `session`'s transaction commits."""
    session.info.setdefault(STALE, set()).update(keys)


def new_version():
    return secrets.token_hex(8)


class Versions:
    """Bumps versions in Redis under `prefix` (no Redis: nothing to bump);
    `failures` counts the bumps that failed."""

    def __init__(self, redis_client, prefix, failures):
        self.redis, self.prefix, self.failures = redis_client, prefix, failures

    @classmethod
    def from_settings(cls, settings, failures):
        if not settings.READ_CACHE_URL:
            return cls(None, "", failures)
        timeout = settings.READ_CACHE_TIMEOUT
        return cls(redis.Redis.from_url(settings.READ_CACHE_URL, socket_timeout=timeout,
                                        socket_connect_timeout=timeout),
                   settings.READ_CACHE_PREFIX, failures)

    def bump(self, keys):
        if self.redis is None or not keys:
            return
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(f"{self.prefix}:{key}", new_version(), ex=VERSION_SECONDS)
                pipe.execute()
        except redis.RedisError as exc:
            log.error("read cache: %d versions not bumped (%s); answers stamped with them "
                      "stay served until they expire", len(keys), exc)
            self.failures.inc()

    def after_commit(self, session):
        """Bump what `session`'s committed transaction marked stale."""
        self.bump(session.info.pop(STALE, ()))
