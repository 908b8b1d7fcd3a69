"""Reads without a round trip: the answers of the roles and events services
that every request asks for, kept in Redis, shared by every gateway process,
and served only while they are fresh (`shared.readcache`).

Each answer is kept stamped with the versions of what it was read from, as
they were before it was asked; it is served while every one of them is
still what it was. The owning service bumps a version after each commit
that changes what it covers and before it acknowledges the change, so:

- read-your-writes and revocation at once, on every gateway process: once
  a write (a team change, a sign-out, an event edit) is answered, no answer
  read before it is served;
- others see a change as soon as it is committed and bumped, within the
  owner's transaction and one Redis round trip.

What is kept: whether a sign-in is on (`session`), a permission answer
(`access`, a "no" as well as a "yes", since a grant bumps the team too),
an event (`event`, by its numeric id; an identifier is asked), a page of an
event's children in either view (`children`; the view is part of the key,
so public and team views never mix), a user's page of "my events"
(`my_events`) and a page of public events (`public_events`). Errors are
never kept. Each answer expires after `READ_CACHE_SECONDS`, and one larger
than `READ_CACHE_MAX_ENTRY_BYTES` is not kept; Redis's own `maxmemory`
bounds the whole. If Redis is away, every read is asked of its service.
"""
import hashlib
import json
import logging

import redis
from eventlet.queue import LightQueue
from nameko.extensions import DependencyProvider

from services.gateway.settings import GatewaySettings
from shared.ids import as_id
from shared.metrics import metrics_of
from shared.readcache import (
    LISTING,
    VERSION_SECONDS,
    event_version,
    new_version,
    team_version,
    user_version,
)
from shared.settings import settings_of

log = logging.getLogger(__name__)


class Connections:
    """`size` connections to the Redis at `url`, each used by one worker at
    a time, without redis-py's pool: its check of a connection at every
    checkout (a `select()`, costly under eventlet) took more of the
    gateway's time than the reads themselves."""

    def __init__(self, url, timeout, size):
        pool = redis.ConnectionPool.from_url(url, socket_timeout=timeout,
                                             socket_connect_timeout=timeout)
        self.free = LightQueue()
        for _ in range(size):  # each connects when first used
            self.free.put(pool.connection_class(**pool.connection_kwargs))

    def run(self, *commands):
        """The replies to `commands` (tuples), sent in one round trip;
        redis.RedisError if Redis is away, slow or refuses one."""
        connection = self.free.get()
        try:
            connection.send_packed_command(connection.pack_commands(commands))
            return [connection.read_response() for _ in commands]
        except BaseException:
            connection.disconnect()  # replies may be left unread: start afresh
            raise
        finally:
            self.free.put(connection)


class ReadCache:
    def __init__(self, connections, prefix, ttl, max_bytes, counts):
        self.redis, self.prefix, self.ttl, self.max_bytes = connections, prefix, ttl, max_bytes
        self.counts = counts  # shared.metrics: reads by what and result
        self._counters = {}

    @classmethod
    def from_settings(cls, settings, counts):
        connections = (Connections(settings.READ_CACHE_URL, settings.READ_CACHE_TIMEOUT,
                                   settings.max_workers) if settings.READ_CACHE_URL else None)
        return cls(connections, settings.READ_CACHE_PREFIX, settings.READ_CACHE_SECONDS,
                   settings.READ_CACHE_MAX_ENTRY_BYTES, counts)

    # what the gateway reads

    def signed_in(self, roles, user_id, session_id):
        """`roles.check_session`: SessionEnded once signed out (not kept)."""
        return self.read("session", f"session:{user_id}:{session_id}", [user_version(user_id)],
                         lambda: roles.check_session(user_id, session_id))

    def has_access(self, roles, user_id, permission, event_id):
        versions = [user_version(user_id)] + ([] if event_id is None else [team_version(event_id)])
        return self.read("access", f"access:{user_id}:{event_id}:{permission}", versions,
                         lambda: roles.has_access(user_id, permission, event_id))

    def event(self, events, ref):
        event_id = as_id(ref)
        if event_id is None or str(event_id) != ref:  # an identifier: its id is not known here
            return events.get_event(ref)
        return self.read("event", f"event:{event_id}", [event_version(event_id)],
                         lambda: events.get_event(event_id))

    # pages, answered as they are kept: JSON text

    def children(self, events, event_id, kind, limit, offset, public):
        return self.read("children", f"children:{event_id}:{kind}:{public:d}:{limit}:{offset}",
                         [event_version(event_id)],
                         lambda: events.list_children(event_id, kind, limit=limit, offset=offset,
                                                      public=public), as_json=True)

    def my_events(self, user_id, options, ask):
        """`ask()`'s answer: the user's page of events, as `options` filter it."""
        key = "my_events:{}:{role}:{state}:{limit}:{offset}:{q}".format(
            user_id, **{**options, "q": _digest(options["q"])})
        return self.read("my_events", key, [user_version(user_id), LISTING], ask, as_json=True)

    def public_events(self, options, ask):
        key = "public_events:{limit}:{offset}:{q}".format(**{**options, "q": _digest(options["q"])})
        return self.read("public_events", key, [LISTING], ask, as_json=True)

    # how

    def read(self, name, key, versions, ask, as_json=False):
        """`ask()`'s answer, from the cache if it was kept stamped with
        `versions` as they are now; else asked, and kept so stamped.
        `as_json`: the answer as JSON text (bytes), as it is kept."""
        if self.redis is None:
            return _encoded(ask()) if as_json else ask()
        try:
            [[entry, *stamp]] = self.redis.run(
                ("MGET", self._key(key), *map(self._key, versions)))
            if entry is not None and None not in stamp:
                kept_stamp, _, answer = entry.partition(b"\n")
                if kept_stamp == b",".join(stamp):
                    self._count(name, "hit")
                    return answer if as_json else json.loads(answer)
            stamp = self._stamp(versions, stamp)
        except redis.RedisError as exc:
            log.warning("read cache unavailable (%s): asking", exc)
            self._count(name, "unavailable")
            return _encoded(ask()) if as_json else ask()
        self._count(name, "miss")
        answer = ask()
        encoded = _encoded(answer)
        self._keep(key, stamp, encoded)
        return encoded if as_json else answer

    def _count(self, name, result):
        counter = self._counters.get((name, result))
        if counter is None:  # labelled once: labelling costs more than counting
            counter = self._counters[name, result] = self.counts.labels(name, result)
        counter.inc()

    def _stamp(self, versions, stamp):
        """The versions as they are now, each one missing made (whoever
        makes it first, another gateway process perhaps, sets it)."""
        missing = [key for key, version in zip(versions, stamp, strict=True) if version is None]
        if not missing:
            return b",".join(stamp)
        replies = self.redis.run(*[command for key in missing for command in (
            ("SET", self._key(key), new_version(), "EX", VERSION_SECONDS, "NX"),
            ("GET", self._key(key)))])
        made = dict(zip(missing, replies[1::2], strict=True))
        return b",".join(made.get(key, version)
                         for key, version in zip(versions, stamp, strict=True))

    def _keep(self, key, stamp, encoded):
        entry = stamp + b"\n" + encoded
        if len(entry) > self.max_bytes:
            return
        try:
            self.redis.run(("SET", self._key(key), entry, "PX", round(self.ttl * 1000)))
        except redis.RedisError as exc:
            log.warning("read cache: an answer not kept (%s)", exc)

    def _key(self, key):
        return f"{self.prefix}:{key}"


def _encoded(answer):
    return json.dumps(answer).encode()


def _digest(text):
    """A search text as a short key part (no user text in a key)."""
    return "" if text is None else hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class Reads(DependencyProvider):
    """The gateway's `ReadCache`, one per service, shared by its workers."""

    def setup(self):
        settings = settings_of(self.container, GatewaySettings)
        self.cache = ReadCache.from_settings(settings, metrics_of(self.container).read_cache)

    def get_dependency(self, worker_ctx):
        return self.cache
