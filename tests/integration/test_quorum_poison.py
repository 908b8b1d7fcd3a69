"""Poison on quorum queues (`QUORUM_QUEUES`, `shared.queues`), as on a
RabbitMQ cluster, for `@consume` and `@consume_batches` alike; against the
real RabbitMQ (one node runs quorum queues too) and PostgreSQL.

A poison message among healthy ones reaches the service's dead-letter
queue exactly once and as it was sent, while each of the others is applied
once, without waiting for it:

- one whose handler raises every time: retried through the quorum retry
  queues and dead-lettered by the handler, as on classic queues
  (tests/integration/test_batches.py, tests/reliability/test_poison.py);
- one that kills its consumer every time: the broker gives it to each new
  consumer (a supervisor's restart) and counts; past the delivery limit it
  dead-letters it itself, naming its queue in `x-death`.

Each test publishes its messages while the handler's queue has no consumer
(a first container declared it), then starts one."""
from collections import Counter
from urllib.parse import quote

import eventlet
import pytest
from eventlet.event import Event
from sqlalchemy import text

from contracts.events.messages import EventCreated
from shared import deadletters, queues
from shared.batches import consume_batches
from shared.broker import Management
from shared.db import Database
from shared.handlers import ATTEMPT_HEADER, SENDER_HEADER, consume
from shared.inbox import apply_each_once, apply_once
from tests.support.broker import created, peek, queue_depth
from tests.support.services import starter
from tests.support.tap import wait_until

SERVICE = "quorum"
HANDLER_QUEUE = f"evt-events-event.created--{SERVICE}.on_event_created"
RETRY_QUEUES = [f"{HANDLER_QUEUE}.retry.1", f"{HANDLER_QUEUE}.retry.2"]
DEAD_LETTERS = f"{SERVICE}.dead-letters"
ATTEMPTS = 3  # the first try and one per delay of service_config's [0.05, 0.1]


class Journal:
    def __init__(self):
        self.calls = Counter()  # message id -> calls of the effect
        self.broken = set()  # message ids whose effect always raises
        self.killing = set()  # message ids whose effect kills the consumer
        self.under_way = 0  # calls of the handler not yet returned
        self.consumer = None  # the container running now

    def apply(self, session, messages):
        for message in messages:
            self.calls[message.message_id] += 1
            if message.message_id in self.broken:
                raise RuntimeError(f"message of event {message.event_id} cannot be handled")
            if message.message_id in self.killing:
                self.kill_consumer()
            session.execute(
                text("INSERT INTO test_quorum_effects (message_id, event_id) VALUES (:m, :e)"),
                {"m": message.message_id, "e": message.event_id})

    def kill_consumer(self):
        """Its process dies, once its other handlers are done (as one whose
        memory grows for a while would): what it holds unacked goes back to
        the queue, counted."""
        wait_until(lambda: self.under_way == 1, timeout=10)
        eventlet.spawn_n(self.consumer.kill)
        Event().wait()  # killed with it


class OneAtATime:
    name = SERVICE
    db = Database()
    journal = None  # a fresh Journal per test (fixture `service`)
    tries_in_a_batch = 0

    @consume(EventCreated)
    def on_event_created(self, message):
        self.journal.under_way += 1
        try:
            apply_once(self.db, self.name, message,
                       lambda session, message: self.journal.apply(session, [message]))
        finally:
            self.journal.under_way -= 1


class InBatches:
    name = SERVICE
    db = Database()
    journal = None
    tries_in_a_batch = 1  # a failing message fails its batch first

    @consume_batches(EventCreated)
    def on_event_created(self, messages):
        self.journal.under_way += 1
        try:
            apply_each_once(self.db, self.name, messages, self.journal.apply)
        finally:
            self.journal.under_way -= 1


@pytest.fixture(params=[OneAtATime, InBatches], ids=["consume", "consume_batches"])
def service(request, monkeypatch):
    monkeypatch.setattr(request.param, "journal", Journal())
    return request.param


@pytest.fixture
def effects(effects_table):
    return effects_table("test_quorum_effects")


@pytest.fixture
def config(events_config):
    return {**events_config, "QUORUM_QUEUES": True, "MESSAGE_BATCH_SIZE": 4,
            "MESSAGE_PREFETCH": 8}


@pytest.fixture
def delivery_limit(monkeypatch):
    """The handler's queue's delivery limit, 3 here (`DELIVERY_LIMIT`, 20, in
    production): each delivery in the test costs a consumer, and nameko's
    kill takes up to a second (its consumer loop's poll)."""
    monkeypatch.setattr(queues, "DELIVERY_LIMIT", 3)
    return queues.DELIVERY_LIMIT


@pytest.fixture
def start(container_factory, config, service):
    """`start()` → a consumer, running; its queue declared by a first one
    that stopped, so that what the test publishes before waits."""
    start_consumer = starter(container_factory, service, config)

    def start():
        service.journal.consumer = start_consumer()
        return service.journal.consumer
    return start


def await_death(container):
    died = eventlet.spawn(container.wait)
    wait_until(lambda: died.dead, timeout=20)


def queue_types(vhost):
    api = Management()
    try:
        return {queue["name"]: queue["type"]
                for queue in api.get(f"queues/{quote(vhost, safe='')}")}
    finally:
        api.close()


def the_dead_letter(amqp_uri):
    """The service's one dead letter, once there is one: as the operator
    lists it, and as it waits in the queue."""
    letters = wait_until(lambda: deadletters.list_dead_letters(amqp_uri, SERVICE),
                         timeout=20, interval=0.1)
    assert len(letters) == 1, letters
    [waiting] = peek(amqp_uri, DEAD_LETTERS)
    return letters[0], waiting


def test_a_failing_message_is_retried_on_quorum_queues_then_dead_lettered_once_as_sent(
        start, service, effects, amqp_uri, rabbit_config):
    messages = [created(amqp_uri, event_id) for event_id in range(1, 9)]
    poison = messages[2]
    service.journal.broken.add(poison.message_id)

    consumer = start()
    letter, parked = the_dead_letter(amqp_uri)
    healthy = [m for m in messages if m != poison]
    wait_until(lambda: len(effects()) == len(healthy), timeout=10)

    consumer.stop()
    types = queue_types(rabbit_config["vhost"])
    assert {types[name] for name in (HANDLER_QUEUE, *RETRY_QUEUES, DEAD_LETTERS)} == {"quorum"}
    assert (letter.message_id, letter.queue) == (str(poison.message_id), HANDLER_QUEUE)
    assert letter.error == "RuntimeError: message of event 3 cannot be handled"
    assert parked.payload == poison.to_payload()
    assert (parked.headers[ATTEMPT_HEADER], parked.headers[SENDER_HEADER]) == (
        len(RETRY_QUEUES), "events")
    assert service.journal.calls[poison.message_id] == service.tries_in_a_batch + ATTEMPTS
    assert Counter(effects()) == Counter((m.message_id, m.event_id) for m in healthy)
    assert [queue_depth(amqp_uri, name) for name in (HANDLER_QUEUE, *RETRY_QUEUES)] == [0] * 3
    assert len(deadletters.list_dead_letters(amqp_uri, SERVICE)) == 1


def test_a_message_that_kills_its_consumer_is_dead_lettered_by_the_broker_past_the_limit(
        delivery_limit, start, service, effects, amqp_uri):
    messages = [created(amqp_uri, event_id) for event_id in range(1, 9)]
    poison = messages[2]
    service.journal.killing.add(poison.message_id)
    healthy = [m for m in messages if m != poison]

    applied = []  # how many of the others were applied when each consumer died
    for _ in range(1 + delivery_limit):  # a supervisor: a new consumer for each that dies
        await_death(start())
        applied.append(len(effects()))
    consumer = start()  # the poison is not delivered again: it is dead-lettered
    letter, dead = the_dead_letter(amqp_uri)

    consumer.stop()
    assert service.journal.calls[poison.message_id] == 1 + delivery_limit
    assert (letter.message_id, letter.queue) == (str(poison.message_id), HANDLER_QUEUE)
    assert letter.error == "dead-lettered by the broker: delivery_limit"
    assert dead.payload == poison.to_payload()
    assert dead.properties["user_id"] == "events"
    assert ATTEMPT_HEADER not in dead.headers  # no handler parked it
    # the others: each applied once, by the first or second consumer (the
    # second: a batch's messages die with the poison the first time)
    assert Counter(effects()) == Counter((m.message_id, m.event_id) for m in healthy)
    assert applied[1] == len(healthy)
    assert queue_depth(amqp_uri, HANDLER_QUEUE) == 0
    assert len(deadletters.list_dead_letters(amqp_uri, SERVICE)) == 1
