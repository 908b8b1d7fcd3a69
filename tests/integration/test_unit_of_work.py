"""The per-worker unit of work, and green psycopg2 in the test process."""
import time

import pytest
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook
from psycopg2 import extensions
from sqlalchemy import text

from shared.db import Database

pytestmark = pytest.mark.integration


class Probe:
    name = "probe"
    db = Database()

    @rpc
    def slow_query(self, seconds):
        with self.db.transaction() as session:
            started = time.monotonic()
            session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
            return started, time.monotonic()

    @rpc
    def write(self, key, fail=False):
        with self.db.transaction() as session:
            session.execute(text("INSERT INTO inbox (message_id, consumer) "
                                 "VALUES (gen_random_uuid(), :key)"), {"key": key})
            if fail:
                raise RuntimeError("the worker fails after writing")

    @rpc
    def two_transactions(self):
        with self.db.transaction():
            pass
        with self.db.transaction():
            pass


def _consumers(session):
    return session.scalars(text("SELECT consumer FROM inbox")).all()


@pytest.fixture
def probe(container_factory, events_config):
    container = container_factory(Probe, events_config)
    container.start()
    return container


def _two_slow_queries_at_once(probe):
    with ServiceRpcProxy("probe", probe.config) as proxy:
        calls = [proxy.slow_query.call_async(0.3) for _ in range(2)]
        return [call.result() for call in calls]


def test_slow_queries_of_two_workers_overlap_in_time(probe):
    (start_a, end_a), (start_b, end_b) = _two_slow_queries_at_once(probe)
    assert start_b < end_a and start_a < end_b


def test_without_the_green_wait_callback_they_would_run_one_after_the_other(probe):
    callback = extensions.get_wait_callback()
    extensions.set_wait_callback(None)
    try:
        (start_a, end_a), (start_b, end_b) = _two_slow_queries_at_once(probe)
    finally:
        extensions.set_wait_callback(callback)
    assert start_b >= end_a or start_a >= end_b


def test_a_worker_that_returns_commits(probe, events_session):
    with entrypoint_hook(probe, "write") as write:
        write("kept")
    assert _consumers(events_session) == ["kept"]


def test_a_worker_that_raises_rolls_back(probe, events_session):
    with entrypoint_hook(probe, "write") as write, pytest.raises(RuntimeError):
        write("lost", fail=True)
    assert _consumers(events_session) == []


def test_a_worker_runs_one_transaction(probe):
    with entrypoint_hook(probe, "two_transactions") as two_transactions:
        with pytest.raises(RuntimeError, match="one transaction"):
            two_transactions()
