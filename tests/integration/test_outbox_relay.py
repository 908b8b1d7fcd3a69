"""Transactional outbox and its relay, against the real PostgreSQL and
RabbitMQ."""
import pytest
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.rpc import rpc
from nameko.testing.services import entrypoint_hook
from sqlalchemy import func, select

from contracts.events.messages import EventCreated
from shared import outbox
from shared.db import Database
from shared.relay import OutboxRelay
from shared.tables import outbox as outbox_table
from tests.support.proxy import TcpProxy
from tests.support.tap import EventTap, wait_until


class Announcer:
    name = "announcer"
    db = Database()
    relay = OutboxRelay()

    @rpc
    def announce(self, first_id, count=1, fail=False):
        with self.db.transaction() as session:
            for event_id in range(first_id, first_id + count):
                outbox.add(session, EventCreated(event_id=event_id, identifier="abcdef12",
                                                 owner_id=1))
            if fail:
                raise RuntimeError("the change fails after announcing")


@pytest.fixture
def tap(rabbit_config):
    tap = EventTap(rabbit_config[AMQP_URI_CONFIG_KEY], "announcer")
    yield tap
    tap.close()


def _announce(container, first_id, count=1, fail=False):
    with entrypoint_hook(container, "announce") as announce:
        announce(first_id, count, fail)


def _pending(session):
    return session.scalar(select(func.count()).select_from(outbox_table))


def test_a_committed_message_is_published_at_once_not_on_the_next_poll(
        container_factory, events_config, tap, events_session):
    container = container_factory(Announcer, {**events_config, "OUTBOX_POLL_INTERVAL": 60})
    container.start()
    _announce(container, 1)
    routing_key, payload = tap.next(timeout=2)
    assert routing_key == "event.created"
    assert EventCreated.parse(payload).event_id == 1
    assert wait_until(lambda: _pending(events_session) == 0)


def test_a_rolled_back_change_sends_no_message(container_factory, events_config, tap):
    container = container_factory(Announcer, events_config)
    container.start()
    with pytest.raises(RuntimeError):
        _announce(container, 1, fail=True)
    _announce(container, 2)
    _, payload = tap.next()
    assert payload["event_id"] == 2
    assert tap.pending() == 0


def test_messages_wait_while_the_broker_is_unreachable_and_go_out_in_order_after(
        container_factory, events_config, rabbit_config, tap, events_session, caplog):
    proxy = TcpProxy(5672)
    broker_uri = rabbit_config[AMQP_URI_CONFIG_KEY].replace(":5672", f":{proxy.port}")
    container = container_factory(Announcer, {**events_config, AMQP_URI_CONFIG_KEY: broker_uri})
    container.start()
    try:
        proxy.cut()
        _announce(container, 1, count=5)
        wait_until(lambda: "outbox relay: will retry" in caplog.text, timeout=15)
        assert _pending(events_session) == 5
        assert tap.pending() == 0

        proxy.restore()
        received = [tap.next(timeout=15)[1]["event_id"] for _ in range(5)]
        assert received == [1, 2, 3, 4, 5]
        assert wait_until(lambda: _pending(events_session) == 0)
    finally:
        proxy.restore()
        container.kill()
        proxy.close()


def test_two_relays_publish_every_row_once_in_order(
        container_factory, events_config, tap, events_session):
    first = container_factory(Announcer, events_config)
    second = container_factory(Announcer, events_config)
    first.start()
    second.start()
    for batch in range(10):
        _announce(first if batch % 2 else second, batch * 50 + 1, count=50)
    received = [tap.next()[1]["event_id"] for _ in range(500)]
    assert received == list(range(1, 501))
    assert wait_until(lambda: _pending(events_session) == 0)
    assert tap.pending() == 0
