"""Scenarios 1 and 2: copies of an event with images are requested while
the services' connections to RabbitMQ, then to PostgreSQL, are cut for a
while. Clients retry a refused request with its Idempotency-Key, as a
careful client does. Afterwards every copy has its media and its team,
none twice; during the outage the gateway answers a clean 503, never a
500 and never a hang."""
import time

import eventlet
import pytest

from tests.reliability.conftest import scaled
from tests.reliability.copies import (
    complete,
    copies_in_database,
    excess,
    expected_copy,
    request_copies,
    source_event,
)
from tests.support.http import sign_up
from tests.support.tap import wait_until

COPIES = scaled(20, 200)
OUTAGE_SECONDS = scaled(3, 10)
CONCURRENCY = 8
DRAIN_DEADLINE_SECONDS = 120
HANG_BOUND_SECONDS = 15  # RPC_TIMEOUT (5 s) twice over, and then some


@pytest.fixture(scope="module")
def owner(system):
    return sign_up(system.api, "owner").api


@pytest.mark.parametrize("link", ["broker", "database"])
def test_copies_requested_through_an_outage_all_complete_once(system, owner, report, link):
    source = source_event(owner)
    proxy = getattr(system, link)
    cut_after = COPIES // 4
    restored = {}

    def outage():
        wait_until(lambda: len(copies_in_database(system, source["id"])) >= cut_after,
                   timeout=60, interval=0.05)
        proxy.cut()
        eventlet.sleep(OUTAGE_SECONDS)
        proxy.restore()
        restored["at"] = time.monotonic()

    fault = eventlet.spawn(outage)
    outcome = request_copies(owner, source["id"], COPIES, CONCURRENCY)
    fault.wait()

    copy_ids = [copy_id for copy_id in outcome.copies.values() if copy_id is not None]
    drained = wait_until(lambda: complete(system, source["id"], copy_ids),
                         timeout=DRAIN_DEADLINE_SECONDS, interval=0.2)
    drain_seconds = time.monotonic() - restored["at"]
    found = copies_in_database(system, source["id"])
    expected = expected_copy(system, source["id"])
    duplicated = len(found) - len(set(copy_ids)) + excess(found.values(), expected)
    refused = sum(status == 503 for status in outcome.statuses)
    wrong = sorted({status for status in outcome.statuses if status not in (201, 503)})
    passed = (drained and outcome.completed == COPIES and duplicated == 0 and not wrong
              and outcome.slowest_refusal < HANG_BOUND_SECONDS)
    report(scenario=f"{link} outage", injected=f"{link} connections cut {OUTAGE_SECONDS} s "
           f"while {COPIES} copies were requested", requested=COPIES,
           completed=sum(found.get(copy_id) == expected for copy_id in copy_ids),
           lost=COPIES - outcome.completed, duplicated=duplicated, passed=passed,
           refused_503=refused, drain_seconds=round(drain_seconds, 2),
           slowest_refusal_seconds=round(outcome.slowest_refusal, 2))

    assert outcome.completed == COPIES, outcome.statuses
    assert len(set(copy_ids)) == COPIES  # each key its own copy
    assert drained, {copy_id: found.get(copy_id) for copy_id in copy_ids
                     if found.get(copy_id) != expected}
    assert duplicated == 0 and set(found) == set(copy_ids)
    assert wrong == [], outcome.statuses  # only 201 or a clean 503
    assert outcome.slowest_refusal < HANG_BOUND_SECONDS
    system.await_healthy()
