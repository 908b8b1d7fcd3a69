"""The relay's `BatchPublisher` against a fake channel: it returns only
once every message of the batch is confirmed, and a nack or a missing
confirm fails the batch and drops the connection."""
import uuid
from collections import defaultdict
from types import SimpleNamespace

import pytest
from kombu import Exchange

from shared import relay
from shared.relay import BatchPublisher


class FakeChannel:
    def __init__(self, confirms):
        self.events = defaultdict(set)
        self.published = []
        self.confirms = confirms  # how the fake broker answers each drain

    def exchange_declare(self, **kwargs):
        pass

    def confirm_select(self):
        pass

    def prepare_message(self, body, properties=None, **kwargs):
        return {"body": body, **kwargs, **(properties or {})}

    def _basic_publish(self, message, exchange, routing_key):
        self.published.append((message, exchange, routing_key))


class FakeConnection:
    opened = []

    def __init__(self, uri, confirms):
        self.channel_ = FakeChannel(confirms)
        self.released = False
        FakeConnection.opened.append(self)

    def channel(self):
        return self.channel_

    def drain_events(self, timeout):
        answer = self.channel_.confirms(len(self.channel_.published))
        if answer is None:
            raise TimeoutError("timed out")
        kind, tag, multiple = answer
        for callback in self.channel_.events[kind]:
            callback(tag, multiple)

    def release(self):
        self.released = True


def rows(count):
    return [SimpleNamespace(payload={"n": n}, headers={"x": "y"}, message_id=uuid.uuid4(),
                            event_type="event.copied") for n in range(count)]


@pytest.fixture
def publisher(monkeypatch):
    def connect(confirms):
        FakeConnection.opened = []
        monkeypatch.setattr(relay, "Connection",
                            lambda uri, ssl=None: FakeConnection(uri, confirms))
        return BatchPublisher("memory://", Exchange("events.events", type="topic"),
                              confirm_timeout=1)
    return connect


def test_a_batch_returns_once_a_multiple_ack_covers_it(publisher):
    sent = publisher(lambda published: ("basic_ack", published, True))
    batch = rows(3)
    sent.publish_confirmed(batch)

    published = FakeConnection.opened[0].channel_.published
    assert [message["headers"] for message, _, _ in published] == [{"x": "y"}] * 3
    assert [message["message_id"] for message, _, _ in published] == [
        str(row.message_id) for row in batch]
    assert {message["delivery_mode"] for message, _, _ in published} == {2}
    assert {(exchange, key) for _, exchange, key in published} == {
        ("events.events", "event.copied")}


def test_single_acks_must_cover_every_message(publisher):
    acked = iter([("basic_ack", 2, False), ("basic_ack", 1, False), ("basic_ack", 3, False)])
    sent = publisher(lambda published: next(acked, None))
    sent.publish_confirmed(rows(3))  # returns: all three acked, out of order
    with pytest.raises(TimeoutError):
        publisher(lambda published: ("basic_ack", 1, False)).publish_confirmed(rows(2))


def test_a_nack_fails_the_batch_and_the_next_starts_on_a_fresh_connection(publisher):
    sent = publisher(lambda published: ("basic_nack", published, True))
    with pytest.raises(RuntimeError, match="nacked"):
        sent.publish_confirmed(rows(2))
    assert FakeConnection.opened[0].released

    FakeConnection.opened[0].channel_.confirms = lambda published: ("basic_ack", published, True)
    with pytest.raises(RuntimeError):  # the fresh connection's fake broker nacks too
        sent.publish_confirmed(rows(1))
    assert len(FakeConnection.opened) == 2


def test_no_confirm_within_the_timeout_fails_the_batch(publisher):
    sent = publisher(lambda published: None)
    with pytest.raises(TimeoutError):
        sent.publish_confirmed(rows(1))
    assert FakeConnection.opened[0].released
