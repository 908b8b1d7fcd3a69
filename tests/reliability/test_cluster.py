"""A RabbitMQ cluster losing a node: three nodes of the test's own
(`tests.support.cluster`), the system on quorum queues (`QUORUM_QUEUES`)
with every node's address in its `AMQP_URI`. Copies are requested under
load; once a third of them exist, the node leading the queue of the copy's
media work is stopped, by name. Every copy a client asked for ends
complete, none twice; a copy asked for after the stop completes within
seconds, which is the time to recover."""
import json
import shutil
import time

import eventlet
import pytest

from tests.reliability.conftest import scaled
from tests.reliability.copies import (
    copies_in_database,
    excess,
    expected_copy,
    request_copies,
    source_event,
)
from tests.support.cluster import Cluster
from tests.support.http import sign_up
from tests.support.system import System
from tests.support.tap import wait_until

COPIES = scaled(20, 200)
CONCURRENCY = 8
LEADING = "evt-events-event.copied--media."  # the queue whose leader is stopped

pytestmark = pytest.mark.timeout(scaled(300, 900))


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("rabbitmq-server") is None:
        pytest.skip("no rabbitmq-server on PATH to start the cluster's nodes with")
    with Cluster("qq") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def system(cluster, tmp_path_factory):
    with System("rel_cluster", tmp_path_factory.mktemp("cluster"), cluster=cluster,
                env={"QUORUM_QUEUES": "true"}) as system:
        yield system


@pytest.fixture(scope="module")
def owner(system):
    return sign_up(system.api, "owner").api


def test_the_services_declare_quorum_queues_on_the_cluster(system, cluster, owner):
    """Each handler's queue is a quorum queue that dead-letters to its
    service's dead-letter queue past the delivery limit; the RPC queues are
    quorum queues too, the reply queues classic."""
    listed = cluster.ctl(cluster.running()[0], "list_queues", "-p", system.vhost, "name", "type",
                         "arguments", "--formatter", "json").stdout
    queues = {queue["name"]: queue for queue in json.loads(listed)}
    handlers = [name for name in queues if name.startswith("evt-") and ".retry." not in name]
    assert handlers
    for name in handlers:
        assert queues[name]["type"] == "quorum"
        assert "x-delivery-limit" in str(queues[name]["arguments"]), queues[name]
    for service in ("events", "roles", "media", "notifications", "webhooks"):
        assert queues[f"rpc-{service}"]["type"] == "quorum"
    replies = [queue for name, queue in queues.items() if name.startswith("rpc.reply-")]
    assert replies and all(queue["type"] == "classic" for queue in replies)


def complete_copies(system, source_id, expected):
    return sum(found == expected for found in copies_in_database(system, source_id).values())


def copied(owner, system, source_id):
    """A copy of `source_id` asked for until it answers 201, then complete:
    whether the whole path (RPC, relay, handlers) works."""
    answer = request_copies(owner, source_id, 1, 1)
    [copy_id] = answer.copies.values()
    expected = expected_copy(system, source_id)
    return copy_id is not None and wait_until(
        lambda: copies_in_database(system, source_id).get(copy_id) == expected, timeout=60,
        interval=0.1)


def test_copies_survive_the_loss_of_their_queues_leader_node(system, cluster, owner, report):
    source, probe = source_event(owner), source_event(owner)
    leaders = cluster.leaders(system.vhost)
    assert {queue for queue in leaders if queue.startswith(("evt-", "rpc-"))}, leaders
    stopped = {}

    def stop_the_leader():
        wait_until(lambda: len(copies_in_database(system, source["id"])) >= COPIES // 3,
                   timeout=120, interval=0.05)
        [queue] = [name for name in cluster.leaders(system.vhost) if name.startswith(LEADING)]
        node = cluster.leaders(system.vhost)[queue]
        started = time.monotonic()
        cluster.stop_node(node)
        stopped.update(queue=queue, node=node, stop_seconds=time.monotonic() - started)
        assert copied(owner, system, probe["id"])
        stopped["recovered_seconds"] = time.monotonic() - started
        stopped["new_leader"] = cluster.leaders(system.vhost)[queue]

    fault = eventlet.spawn(stop_the_leader)
    outcome = request_copies(owner, source["id"], COPIES, CONCURRENCY,
                             deadline_seconds=scaled(180, 600))
    fault.wait()

    copy_ids = [copy_id for copy_id in outcome.copies.values() if copy_id is not None]
    expected = expected_copy(system, source["id"])
    drained = wait_until(lambda: complete_copies(system, source["id"], expected) >= len(copy_ids),
                         timeout=120, interval=0.2)
    found = copies_in_database(system, source["id"])
    duplicated = len(found) - len(set(copy_ids)) + excess(found.values(), expected)
    wrong = sorted({str(status) for status in outcome.statuses
                    if status not in (201, 503, "connection error")})
    passed = drained and outcome.completed == COPIES and duplicated == 0 and not wrong
    report(scenario="RabbitMQ cluster: leader node stopped",
           injected=f"3-node cluster, quorum queues; {stopped['node']} (leader of "
                    f"{stopped['queue']}) stopped under copy load",
           requested=COPIES, completed=sum(found.get(copy_id) == expected for copy_id in copy_ids),
           lost=COPIES - outcome.completed, duplicated=duplicated, passed=passed,
           recovered_seconds=round(stopped["recovered_seconds"], 1),
           stop_seconds=round(stopped["stop_seconds"], 1))

    assert stopped["new_leader"] != stopped["node"]
    assert outcome.completed == COPIES, outcome.statuses
    assert drained, {copy_id: found.get(copy_id) for copy_id in copy_ids}
    assert duplicated == 0 and set(found) == set(copy_ids)
    assert wrong == [], outcome.statuses


