"""`@consume_batches`: several messages per transaction, with `@consume`'s
guarantees; against the real RabbitMQ and PostgreSQL.

Each test publishes its messages while the handler's queue has no
consumer, then starts one: they wait together, so they arrive in batches
(`MESSAGE_BATCH_SIZE` 4 here)."""
from collections import Counter

import pytest
from sqlalchemy import text

from contracts.events.messages import EventCreated
from shared import deadletters
from shared.batches import BatchQueueConsumer, consume_batches
from shared.db import Database
from shared.inbox import apply_each_once
from tests.support.broker import created, queue_depth, send_message
from tests.support.services import starter
from tests.support.tap import wait_until

SERVICE = "batches"
HANDLER_QUEUE = f"evt-events-event.created--{SERVICE}.on_event_created"
ATTEMPTS = 3  # the first try and one per delay of service_config's [0.05, 0.1]


class Journal:
    def __init__(self):
        self.batches = []  # the event ids of each call of the handler
        self.calls = Counter()  # message id -> calls of the effect
        self.failures = Counter()  # message id -> calls of the effect that fail first
        self.broken = set()  # message ids whose effect always fails


class BatchService:
    name = SERVICE
    db = Database()
    journal = None  # a fresh Journal per test (fixture `journal`)

    @consume_batches(EventCreated)
    def on_event_created(self, messages):
        self.journal.batches.append([message.event_id for message in messages])
        apply_each_once(self.db, self.name, messages, self._effect)

    def _effect(self, session, messages):
        for message in messages:
            self.journal.calls[message.message_id] += 1
            if (message.message_id in self.journal.broken
                    or self.journal.calls[message.message_id] <= self.journal.failures[
                        message.message_id]):
                raise RuntimeError(f"message of event {message.event_id} cannot be handled")
            session.execute(
                text("INSERT INTO test_batch_effects (message_id, event_id) VALUES (:m, :e)"),
                {"m": message.message_id, "e": message.event_id})


@pytest.fixture
def journal(monkeypatch):
    journal = Journal()
    monkeypatch.setattr(BatchService, "journal", journal)
    return journal


@pytest.fixture
def effects(effects_table):
    return effects_table("test_batch_effects")


@pytest.fixture
def config(events_config):
    return {**events_config, "MESSAGE_BATCH_SIZE": 4, "MESSAGE_PREFETCH": 8}


@pytest.fixture
def start(container_factory, config, journal):
    """`start()` → the consumer (`tests.support.services.starter`)."""
    return starter(container_factory, BatchService, config)


def wait_for_effects(effects, count):
    return wait_until(lambda: len(rows := effects()) == count and rows, timeout=10)


def test_a_batch_applies_each_message_once_however_often_it_is_delivered(
        start, journal, effects, amqp_uri):
    messages = [created(amqp_uri, event_id) for event_id in range(1, 7)]
    for message in messages[:3]:
        send_message(amqp_uri, message)  # delivered again, in the same batch or not

    consumer = start()
    wait_until(lambda: sum(map(len, journal.batches)) == 9, timeout=10)
    for message in messages:  # and once more, after their batches committed
        send_message(amqp_uri, message)
    wait_until(lambda: sum(map(len, journal.batches)) == 15, timeout=10)

    consumer.stop()
    assert effects() == [(m.message_id, m.event_id) for m in messages]
    assert max(map(len, journal.batches)) > 1  # it did take them in batches
    assert max(map(len, journal.batches)) <= 4  # MESSAGE_BATCH_SIZE
    assert queue_depth(amqp_uri, HANDLER_QUEUE) == 0  # every delivery acked
    assert deadletters.list_dead_letters(amqp_uri, SERVICE) == []


def test_a_batch_the_broker_delivers_again_after_its_commit_changes_nothing(
        start, journal, effects, amqp_uri, monkeypatch):
    messages = [created(amqp_uri, event_id) for event_id in range(1, 7)]
    with monkeypatch.context() as acks_lost:
        acks_lost.setattr(BatchQueueConsumer, "ack_message", lambda self, message: None)
        consumer = start()
        wait_for_effects(effects, len(messages))
        consumer.stop()  # its connection closes with every delivery unacked
    wait_until(lambda: queue_depth(amqp_uri, HANDLER_QUEUE) == len(messages))

    consumer = start()
    wait_until(lambda: sum(map(len, journal.batches)) == 2 * len(messages), timeout=10)

    consumer.stop()
    assert effects() == [(m.message_id, m.event_id) for m in messages]
    assert queue_depth(amqp_uri, HANDLER_QUEUE) == 0


def test_a_poison_message_is_retried_and_dead_lettered_alone_and_its_batch_applied_once(
        start, journal, effects, amqp_uri):
    messages = [created(amqp_uri, event_id) for event_id in range(1, 9)]
    poison = messages[2]
    journal.broken.add(poison.message_id)

    consumer = start()
    [letter] = wait_until(
        lambda: deadletters.list_dead_letters(amqp_uri, SERVICE) or None, timeout=10)
    healthy = [m for m in messages if m != poison]
    wait_for_effects(effects, len(healthy))

    consumer.stop()
    assert letter.message_id == str(poison.message_id)
    assert letter.error == "RuntimeError: message of event 3 cannot be handled"
    assert journal.calls[poison.message_id] == 1 + ATTEMPTS  # in its batch, then alone
    assert effects() == [(m.message_id, m.event_id) for m in healthy]
    assert [batch for batch in journal.batches if 3 in batch][-ATTEMPTS:] == [[3]] * ATTEMPTS
    assert queue_depth(amqp_uri, HANDLER_QUEUE) == 0
    assert queue_depth(amqp_uri, f"{HANDLER_QUEUE}.retry.1") == 0
    assert queue_depth(amqp_uri, f"{HANDLER_QUEUE}.retry.2") == 0


def test_messages_commit_in_delivery_order_through_a_failed_batch(
        start, journal, effects, amqp_uri):
    # two events' messages interleaved; one of event 1's fails once in its
    # batch and succeeds when the batch is run again one at a time
    messages = [created(amqp_uri, 1 + index % 2) for index in range(12)]
    journal.failures[messages[5].message_id] = 1

    consumer = start()
    wait_for_effects(effects, len(messages))

    consumer.stop()
    assert effects() == [(m.message_id, m.event_id) for m in messages]
    assert journal.calls[messages[5].message_id] == 2


def test_a_message_waiting_for_its_retry_is_overtaken_by_the_rest_of_its_event(
        start, journal, effects, amqp_uri):
    # what is not guaranteed, pinned: a retry goes to the back of the queue
    messages = [created(amqp_uri, 1) for _ in range(6)]
    journal.failures[messages[1].message_id] = 2  # in its batch, then alone: parked for a retry

    consumer = start()
    wait_for_effects(effects, len(messages))

    consumer.stop()
    committed = [message_id for message_id, _ in effects()]
    others = [m.message_id for m in messages if m != messages[1]]
    assert [message_id for message_id in committed if message_id != messages[1].message_id] \
        == others  # the others in their order
    assert committed.index(messages[1].message_id) > committed.index(messages[2].message_id)
