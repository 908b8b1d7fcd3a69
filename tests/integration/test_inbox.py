"""The idempotent-consumer inbox: a message delivered again, or twice at
once, has its effect once; against the real PostgreSQL and RabbitMQ."""
import pytest
from eventlet.queue import Empty, Queue
from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from contracts.events.messages import EventCreated
from shared.db import Database
from shared.handlers import consume
from shared.inbox import first_delivery
from shared.tables import inbox
from tests.support.broker import publish_event
from tests.support.tap import wait_until

CONSUMER = "inbox_consumer.on_event_created"


def a_message(event_id=1):
    return EventCreated(event_id=event_id, identifier="abcdef12", owner_id=7)


# first_delivery on its own


def test_first_delivery_is_true_once_per_message_and_consumer(events_session):
    message = a_message()

    assert first_delivery(events_session, message, CONSUMER) is True
    events_session.commit()
    assert first_delivery(events_session, message, CONSUMER) is False
    events_session.commit()
    assert first_delivery(events_session, message, CONSUMER) is False
    assert first_delivery(events_session, message, "another.consumer") is True
    assert first_delivery(events_session, a_message(), CONSUMER) is True
    events_session.commit()

    assert _recorded(events_session, message) == 2


def test_a_delivery_whose_transaction_rolled_back_is_not_recorded(events_db):
    Session = sessionmaker(bind=events_db)
    message = a_message()
    with Session() as session:
        assert first_delivery(session, message, CONSUMER) is True
        session.rollback()
    with Session.begin() as session:
        assert first_delivery(session, message, CONSUMER) is True
    with Session.begin() as session:
        assert first_delivery(session, message, CONSUMER) is False


def _recorded(session, message):
    return session.scalar(
        select(func.count()).select_from(inbox).where(inbox.c.message_id == message.message_id)
    )


# a consumer service that uses it


class Journal:
    """How each delivery ended (`first`, `duplicate` or `failed`), in the
    order they end; `before_commit` runs in the first delivery's transaction."""

    def __init__(self):
        self.outcomes = Queue()
        self.before_commit = lambda: None

    def next_outcomes(self, count, timeout=10.0):
        try:
            return sorted(self.outcomes.get(timeout=timeout) for _ in range(count))
        except Empty:
            raise AssertionError(f"not {count} deliveries within {timeout}s") from None


class InboxConsumer:
    name = "inbox_consumer"
    db = Database()
    journal = None  # a fresh Journal per test (fixture `journal`)

    @consume(EventCreated)
    def on_event_created(self, message):
        outcome = "failed"
        try:
            outcome = self._handle(message)
        finally:
            self.journal.outcomes.put(outcome)

    def _handle(self, message):
        with self.db.transaction() as session:
            if not first_delivery(session, message, CONSUMER):
                return "duplicate"
            session.execute(
                text("INSERT INTO test_inbox_effects (message_id, event_id) VALUES (:m, :e)"),
                {"m": message.message_id, "e": message.event_id},
            )
            self.journal.before_commit()
        return "first"


@pytest.fixture
def effects(events_db):
    """A table for the consumer's effect: one row per effect, no unique key,
    so a duplicate effect would show."""
    with events_db.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS test_inbox_effects"))
        conn.execute(text("CREATE TABLE test_inbox_effects ("
                          " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                          " message_id uuid NOT NULL, event_id bigint NOT NULL)"))

    def rows():
        with events_db.connect() as conn:
            return conn.execute(text("SELECT message_id, event_id FROM test_inbox_effects")).all()

    yield rows
    with events_db.begin() as conn:
        conn.execute(text("DROP TABLE test_inbox_effects"))


@pytest.fixture
def journal(monkeypatch):
    journal = Journal()
    monkeypatch.setattr(InboxConsumer, "journal", journal)
    return journal


def start_consumer(container_factory, events_config):
    container = container_factory(InboxConsumer, events_config)
    container.start()
    return container


def publish(amqp_uri, message):
    publish_event(amqp_uri, message.to_payload(), message.message_id)


def test_a_message_delivered_three_times_has_its_effect_once(
        container_factory, events_config, effects, journal, amqp_uri):
    start_consumer(container_factory, events_config)
    message = a_message(event_id=42)

    for _ in range(3):
        publish(amqp_uri, message)

    assert journal.next_outcomes(3) == ["duplicate", "duplicate", "first"]
    assert effects() == [(message.message_id, 42)]


def test_two_deliveries_at_once_in_two_containers_have_the_effect_once(
        container_factory, events_config, effects, journal, amqp_uri, events_db):
    start_consumer(container_factory, events_config)
    start_consumer(container_factory, events_config)

    def hold_until_the_other_delivery_waits_for_this_one():
        # the other delivery's inbox insert is blocked on this uncommitted row
        wait_until(lambda: _inbox_inserts_waiting_for_a_lock(events_db) == 1, timeout=10)

    journal.before_commit = hold_until_the_other_delivery_waits_for_this_one
    message = a_message(event_id=42)
    publish(amqp_uri, message)
    publish(amqp_uri, message)

    assert journal.next_outcomes(2, timeout=20) == ["duplicate", "first"]
    assert effects() == [(message.message_id, 42)]


def _inbox_inserts_waiting_for_a_lock(engine):
    with engine.connect() as conn:
        return conn.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                 " AND wait_event_type = 'Lock' AND query LIKE :insert"),
            {"insert": "INSERT INTO inbox %"},
        )
