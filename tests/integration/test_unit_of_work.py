"""The per-worker unit of work, and green psycopg2: in the test process and
under `nameko run`."""
import os
import subprocess
import sys

import pytest
import yaml
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook
from psycopg2 import extensions
from requests import HTTPError
from sqlalchemy import text

from tests.conftest import ROOT
from tests.support.probe import Probe
from tests.support.tap import wait_until


def _consumers(session):
    return session.scalars(text("SELECT consumer FROM inbox")).all()


@pytest.fixture
def probe(container_factory, events_config):
    container = container_factory(Probe, events_config)
    container.start()
    return container


def _two_slow_queries_at_once(probe):
    return _two_slow_queries_through(probe.config)


def _two_slow_queries_through(config):
    with ServiceRpcProxy("probe", config) as proxy:
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


def test_a_worker_s_transactions_do_not_nest(probe):
    with entrypoint_hook(probe, "nested_transactions") as nested_transactions:
        with pytest.raises(RuntimeError, match="do not nest"):
            nested_transactions()


def test_a_worker_reads_its_committed_change_in_a_second_transaction(probe, events_session):
    with entrypoint_hook(probe, "write_then_read") as write_then_read:
        assert write_then_read("seen") == 1
    assert _consumers(events_session) == ["seen"]


def test_slow_queries_overlap_under_nameko_run_too(
        tmp_path, events_config, rabbit_config, rabbit_manager):
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({key: events_config[key] for key in
                                      ("AMQP_URI", "DATABASE_URL", "max_workers")}))
    service = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "nameko"), "run",
         "--config", str(config), "tests.support.probe"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _consumers_of(rabbit_manager, rabbit_config["vhost"], "rpc-probe"),
                   timeout=30, interval=0.2)
        (start_a, end_a), (start_b, end_b) = _two_slow_queries_through(events_config)
        assert start_b < end_a and start_a < end_b
    finally:
        service.terminate()
        service.wait(timeout=30)


def _consumers_of(rabbit_manager, vhost, queue):
    try:
        return rabbit_manager.get_queue(vhost, queue).get("consumers")
    except HTTPError:  # not declared yet
        return 0
