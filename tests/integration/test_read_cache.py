"""The gateway's read cache on the real Redis (`services.gateway.reads`),
and the versions a committed transaction bumps (`shared.readcache`): an
answer is served while the versions it was read under stand, never after
a bump, and never one read before the bump; errors and oversized answers
are not kept; Redis away, every read is asked."""
import uuid

import pytest
import redis
from sqlalchemy import event, text
from sqlalchemy.orm import sessionmaker

from services.gateway.reads import Connections, ReadCache
from shared.db import make_engine
from shared.metrics import ServiceMetrics
from shared.readcache import LISTING, Versions, event_version, stale, team_version, user_version
from tests.support.proxy import TcpProxy
from tests.support.system import LOCAL_REDIS, clear_read_cache, free_port
from tests.support.tap import wait_until


class Asked:
    """An answer to ask for, counting the asks."""

    def __init__(self, answer):
        self.answer, self.asks = answer, 0

    def __call__(self):
        self.asks += 1
        return self.answer


@pytest.fixture
def prefix():
    prefix = f"test-reads-{uuid.uuid4().hex[:8]}"
    yield prefix
    clear_read_cache(LOCAL_REDIS, prefix)


@pytest.fixture
def metrics():
    return ServiceMetrics()


@pytest.fixture
def versions(prefix, metrics):
    return Versions(redis.Redis.from_url(LOCAL_REDIS), prefix, metrics.read_cache_bump_failures,
                    retry_for=60)


def cache_on(url, prefix, metrics, max_bytes=2**16):
    return ReadCache(Connections(url, timeout=0.5, size=2), prefix, ttl=60.0,
                     max_bytes=max_bytes, counts=metrics.read_cache)


@pytest.fixture
def cache(prefix, metrics):
    return cache_on(LOCAL_REDIS, prefix, metrics)


def count(metrics, read, result):
    return metrics.registry.get_sample_value(
        "read_cache_total", {"read": read, "result": result}) or 0


def test_an_answer_is_asked_once_then_served_until_its_version_is_bumped(cache, versions,
                                                                           metrics):
    asked = Asked({"id": 7, "name": "Summit"})
    for _ in range(3):
        assert cache.read("event", "event:7", [event_version(7)], asked) == asked.answer
    assert asked.asks == 1

    asked.answer = {"id": 7, "name": "Renamed"}
    versions.bump([event_version(7)])

    assert cache.read("event", "event:7", [event_version(7)], asked)["name"] == "Renamed"
    assert asked.asks == 2
    assert (count(metrics, "event", "miss"), count(metrics, "event", "hit")) == (2, 2)


def test_an_answer_read_before_a_bump_is_never_served_after_it(cache, versions):
    """The race: a read asks the service, the change commits and bumps while
    the answer is on its way, and the old answer is kept; it is stamped with
    the version before the bump, so the next read asks again."""
    def ask_while_the_change_lands():
        old = {"member": True}
        versions.bump([team_version(3), user_version(5)])  # the removal, acknowledged
        return old

    versions_read = [user_version(5), team_version(3)]
    assert cache.read("access", "access:5:3:is_team_member", versions_read,
                      ask_while_the_change_lands) == {"member": True}

    now = Asked({"member": False})
    assert cache.read("access", "access:5:3:is_team_member", versions_read, now) == {
        "member": False}
    assert now.asks == 1


def test_any_one_of_several_versions_retires_an_answer(cache, versions):
    asked = Asked({"items": [1, 2]})
    keys = [user_version(5), LISTING]
    cache.read("my_events", "my_events:5", keys, asked)
    versions.bump([LISTING])
    cache.read("my_events", "my_events:5", keys, asked)
    cache.read("my_events", "my_events:5", keys, asked)
    assert asked.asks == 2


def test_a_lost_version_retires_the_answers_stamped_with_it(cache, prefix):
    """Versions are random: one evicted and made again stamps nothing old."""
    asked = Asked({"ok": True})
    cache.read("session", "session:5:abc", [user_version(5)], asked)
    redis.Redis.from_url(LOCAL_REDIS).delete(f"{prefix}:{user_version(5)}")
    cache.read("session", "session:5:abc", [user_version(5)], asked)
    assert asked.asks == 2


def test_errors_are_not_kept(cache):
    def refused():
        raise LookupError("no such event")

    for _ in range(2):
        with pytest.raises(LookupError):
            cache.read("event", "event:9", [event_version(9)], refused)
    asked = Asked({"id": 9})
    assert cache.read("event", "event:9", [event_version(9)], asked) == {"id": 9}
    assert asked.asks == 1


def test_an_answer_above_the_size_limit_is_asked_each_time(prefix, metrics):
    cache = cache_on(LOCAL_REDIS, prefix, metrics, max_bytes=1000)
    big, small = Asked({"text": "x" * 1000}), Asked({"text": "x" * 10})
    for _ in range(2):
        cache.read("children", "children:big", [event_version(1)], big)
        cache.read("children", "children:small", [event_version(1)], small)
    assert (big.asks, small.asks) == (2, 1)


def test_with_redis_away_every_read_is_asked(prefix, metrics):
    cache = cache_on(f"redis://127.0.0.1:{free_port()}/0", prefix, metrics)
    asked = Asked({"id": 1})
    for _ in range(2):
        assert cache.read("event", "event:1", [event_version(1)], asked) == {"id": 1}
    assert asked.asks == 2
    assert count(metrics, "event", "unavailable") == 2


def test_a_commit_bumps_what_its_transaction_marked_and_a_rollback_nothing(
        versions, prefix, metrics, roles_db_url):
    engine = make_engine(roles_db_url, pool_size=1)
    Session = sessionmaker(bind=engine)
    event.listen(Session, "after_commit", versions.after_commit)
    store = redis.Redis.from_url(LOCAL_REDIS)
    versions.bump([event_version(1), event_version(2)])
    before = store.mget(f"{prefix}:{event_version(1)}", f"{prefix}:{event_version(2)}")
    try:
        with Session() as session:
            session.execute(text("SELECT 1"))
            stale(session, event_version(1))
            session.commit()
        with Session() as session:
            session.execute(text("SELECT 1"))
            stale(session, event_version(2))
            session.rollback()
    finally:
        engine.dispose()

    after = store.mget(f"{prefix}:{event_version(1)}", f"{prefix}:{event_version(2)}")
    assert after[0] != before[0]
    assert after[1] == before[1]
    assert metrics.registry.get_sample_value("read_cache_bump_failures_total") == 0


def test_a_bump_redis_missed_is_counted_and_made_once_it_answers(prefix, metrics):
    """Redis out of the owner's reach at the change (a cut between them):
    the answers it should retire are still there, so the bump is tried
    again until it takes."""
    proxy = TcpProxy(6379)
    try:
        store = redis.Redis.from_url(LOCAL_REDIS)
        key = f"{prefix}:{event_version(1)}"
        versions = Versions(redis.Redis(port=proxy.port, socket_timeout=0.2,
                                        socket_connect_timeout=0.2),
                            prefix, metrics.read_cache_bump_failures, retry_for=30)
        versions.bump([event_version(1)])
        before = store.get(key)

        proxy.cut()
        versions.bump([event_version(1)])  # does not raise: the change has committed
        assert store.get(key) == before
        proxy.restore()

        wait_until(lambda: store.get(key) != before, timeout=10)
        assert metrics.registry.get_sample_value("read_cache_bump_failures_total") == 1
    finally:
        proxy.close()
