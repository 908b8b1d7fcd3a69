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

A bump that fails (Redis away from the owner, or paused, while the
answers it should retire are still there) is logged, counted, and tried
again every `RETRY_SECONDS` in the background until it takes or those
answers have expired anyway (`READ_CACHE_SECONDS`): a stale answer lives
at most as long as the outage, and never longer than that.
"""
import logging
import secrets
import time

import eventlet
import redis

log = logging.getLogger(__name__)

STALE = "read_cache.stale"  # session.info key: the versions a transaction changes
VERSION_SECONDS = 7 * 24 * 3600  # a version outlives every answer stamped with it
RETRY_SECONDS = 1.0
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
    `failures` counts the bumps that failed at first, `retry_for` is how
    long a failed one is tried again (the answers' lifetime)."""

    def __init__(self, redis_client, prefix, failures, retry_for):
        self.redis, self.prefix, self.failures = redis_client, prefix, failures
        self.retry_for = retry_for

    @classmethod
    def from_settings(cls, settings, failures):
        if not settings.READ_CACHE_URL:
            return cls(None, "", failures, 0)
        timeout = settings.READ_CACHE_TIMEOUT
        return cls(redis.Redis.from_url(settings.READ_CACHE_URL, socket_timeout=timeout,
                                        socket_connect_timeout=timeout),
                   settings.READ_CACHE_PREFIX, failures, settings.READ_CACHE_SECONDS)

    def bump(self, keys):
        if self.redis is None or not keys:
            return
        try:
            self._set(keys)
        except redis.RedisError as exc:
            log.error("read cache: %d versions not bumped (%s); trying again for %g s",
                      len(keys), exc, self.retry_for)
            self.failures.inc()
            eventlet.spawn(self._again, list(keys), time.monotonic() + self.retry_for)

    def _set(self, keys):
        with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(f"{self.prefix}:{key}", new_version(), ex=VERSION_SECONDS)
            pipe.execute()

    def _again(self, keys, until):
        while time.monotonic() < until:
            eventlet.sleep(RETRY_SECONDS)
            try:
                self._set(keys)
            except redis.RedisError:
                continue
            log.warning("read cache: %d versions bumped after all", len(keys))
            return

    def after_commit(self, session):
        """Bump what `session`'s committed transaction marked stale."""
        self.bump(session.info.pop(STALE, ()))
