"""A real service process, as `python -m shared.serve` runs it in every
deployment: it stops within its grace period whatever signals arrive, and
`python -m shared.probe` says whether it can work."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.support.tap import wait_until

GRACE = 10  # STOP_GRACE_SECONDS of the processes here


@pytest.fixture
def environment(service_config, events_db_url, events_db):
    return {**os.environ, "AMQP_URI": service_config["AMQP_URI"], "ENVIRONMENT": "test",
            "EVENTS_DATABASE_URL": events_db_url, "EVENTS_METRICS_ADDRESS": "127.0.0.1:0",
            "STOP_GRACE_SECONDS": str(GRACE), "PYTHONPATH": str(ROOT)}


def serve(environment, **settings):
    return subprocess.Popen([sys.executable, "-m", "shared.serve", "events"], cwd=ROOT,
                            env={**environment, **settings}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def probe(environment):
    return subprocess.run([sys.executable, "-m", "shared.probe", "events"], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=30)


@pytest.fixture
def running(environment):
    """The events service, once it takes calls; killed if a test left it running."""
    process = serve(environment)
    assert wait_until(lambda: probe(environment).returncode == 0, timeout=30, interval=0.5)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def stopped_within(process, seconds):
    """The exit status and how long it took, or a failure after `seconds`."""
    started = time.monotonic()
    try:
        return process.wait(timeout=seconds), time.monotonic() - started
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {seconds} s after the signal")


def test_one_sigterm_stops_the_service_gracefully(running):
    running.send_signal(signal.SIGTERM)

    status, _ = stopped_within(running, GRACE)
    assert status == 0


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_during_the_stop_never_leaves_it_hanging(running, second):
    """(`nameko run` hung here.) The second signal ends the process at
    once, unless the graceful stop it interrupts has already finished (or
    the two arrived as one): either way, within the grace period."""
    running.send_signal(signal.SIGTERM)
    running.send_signal(second)

    status, seconds = stopped_within(running, GRACE)
    written = running.stderr.read()
    assert seconds < 5, written[-2000:]
    if status == 1:  # (signals pending together are handled lowest number first)
        assert re.search(r"stopping hard: SIG(TERM|INT) while stopping", written), written
    else:
        assert status == 0 and "stopping services" in written


def test_a_stop_that_outlasts_the_grace_period_ends_hard(environment):
    process = serve(environment, STOP_GRACE_SECONDS="0.01")  # no stop finishes in 10 ms
    assert wait_until(lambda: probe(environment).returncode == 0, timeout=30, interval=0.5)
    process.send_signal(signal.SIGTERM)

    status, _ = stopped_within(process, GRACE)
    assert status == 1
    assert "not stopped within STOP_GRACE_SECONDS (0.01 s)" in process.stderr.read()


def test_the_probe_says_not_ready_without_a_running_service(environment):
    result = probe(environment)

    assert result.returncode == 1
    assert "not ready: NotFound" in result.stderr  # the RPC queue: never declared


def test_the_probe_says_not_ready_when_the_database_does_not_answer(running, environment):
    result = probe({**environment, "EVENTS_DATABASE_URL":
                    "postgresql+psycopg2://root@127.0.0.1:1/events"})

    assert result.returncode == 1
    assert "not ready: OperationalError" in result.stderr
