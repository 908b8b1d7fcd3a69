"""Quorum queues where `QUORUM_QUEUES` says so, and an `AMQP_URI` that
lists a cluster's nodes."""
from types import SimpleNamespace

from services.events.settings import EventsSettings
from shared import queues
from shared.amqp import addresses, user_of, with_login, without_login
from shared.deadletters import _describe, original_queue
from shared.handlers import ORIGINAL_QUEUE_HEADER, dead_letter_queue, retry_queue

CLUSTER = "pyamqp://127.0.0.1:5672/v;pyamqp://old:secret@127.0.0.1:5673/v"


def test_quorum_queues_are_the_default_in_production_only():
    assert EventsSettings.model_validate({}).QUORUM_QUEUES is True
    assert EventsSettings.model_validate({"ENVIRONMENT": "test"}).QUORUM_QUEUES is False
    assert EventsSettings.model_validate(
        {"ENVIRONMENT": "development", "QUORUM_QUEUES": "true"}).QUORUM_QUEUES is True
    assert EventsSettings.model_validate({"QUORUM_QUEUES": False}).QUORUM_QUEUES is False


def test_a_classic_queue_keeps_its_arguments_as_they_are():
    assert dead_letter_queue("roles").queue_arguments == {}
    assert "x-queue-type" not in retry_queue("roles", "evt-q", 1, 0.5).queue_arguments
    assert queues.delivery_limited(False, "roles.handlers", "roles.dead-letters") == {}


def test_a_quorum_retry_queue_dead_letters_back_at_least_once():
    arguments = retry_queue("roles", "evt-q", 2, 0.5, quorum=True).queue_arguments
    assert arguments == {
        "x-queue-type": "quorum", "x-message-ttl": 500,
        "x-dead-letter-exchange": "roles.handlers", "x-dead-letter-routing-key": "evt-q",
        "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    assert dead_letter_queue("roles", quorum=True).queue_arguments == {"x-queue-type": "quorum"}


def test_a_quorum_handler_queue_dead_letters_past_its_delivery_limit():
    arguments = queues.delivery_limited(True, "roles.handlers", "roles.dead-letters")
    assert arguments["x-queue-type"] == "quorum"
    assert arguments["x-delivery-limit"] == queues.DELIVERY_LIMIT
    assert (arguments["x-dead-letter-exchange"], arguments["x-dead-letter-routing-key"]) == (
        "roles.handlers", "roles.dead-letters")
    assert arguments["x-dead-letter-strategy"] == "at-least-once"


def test_a_cluster_uri_lists_every_node_and_each_gets_the_login():
    login = with_login(CLUSTER, "events", "p@ss")
    assert addresses(login) == ["pyamqp://events:p%40ss@127.0.0.1:5672/v",
                                "pyamqp://events:p%40ss@127.0.0.1:5673/v"]
    assert user_of(login) == "events"
    assert without_login(CLUSTER) == "pyamqp://127.0.0.1:5672/v;pyamqp://127.0.0.1:5673/v"


def test_a_dead_letter_the_broker_parked_names_its_queue_from_x_death():
    headers = {"x-death": [{"queue": "evt-q", "reason": "delivery_limit", "count": 1}]}
    assert original_queue(headers) == "evt-q"
    assert original_queue({ORIGINAL_QUEUE_HEADER: "evt-own", **headers}) == "evt-own"
    letter = _describe(SimpleNamespace(headers=headers, properties={"message_id": "m"},
                                       payload={}))
    assert (letter.queue, letter.error) == ("evt-q", "dead-lettered by the broker: delivery_limit")
