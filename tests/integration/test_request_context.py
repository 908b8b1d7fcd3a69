"""A request id travels with the request: through RPC calls, through the
outbox and the relay to the consumers of the messages it announces, and
into every line logged on its way; against the real PostgreSQL and RabbitMQ.

The services are small ones of this module, shaped as the real ones are:
`Front` (named "events": its outbox messages go out on `events.events`)
calls `Back` over RPC and announces an event; `Back` consumes it.
"""
import io
import json
import logging
from collections import Counter
from uuid import UUID

import pytest
from eventlet.queue import Empty, Queue
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import replace_dependencies
from sqlalchemy import select

from contracts.events.messages import EventCreated
from shared import deadletters, outbox
from shared.context import HEADER, RequestContext, bound_request_id, current_request_id
from shared.db import Database
from shared.handlers import consume
from shared.logs import JsonFormatter
from shared.relay import OutboxRelay
from shared.rpc import Rpc, rpc
from shared.tables import outbox as outbox_table
from tests.support.broker import publish_event, service_uri, widen_rpc
from tests.support.tap import wait_until

log = logging.getLogger(__name__)


def event_created(event_id):
    return EventCreated(event_id=event_id, identifier="abcdef12", owner_id=1)


class Front:
    name = "events"
    request_context = RequestContext()
    db = Database()
    relay = OutboxRelay()
    back = Rpc("back")

    @rpc
    def start(self, event_id):
        """Ask `back`, announce the event; the request ids both saw."""
        log.info("front: starting %s", event_id)
        seen_by_back = self.back.whoami()
        with self.db.transaction() as session:
            outbox.add(session, event_created(event_id))
        return {"front": current_request_id(), "back": seen_by_back}


class Journal:
    """What `Back`'s handler saw; the test decides which event ids fail first."""

    def __init__(self):
        self.attempts = Counter()
        self.failures_before_success = Counter()
        self.handled = Queue()  # (event id, request id) per handled message

    def next_handled(self, timeout=5.0):
        try:
            return self.handled.get(timeout=timeout)
        except Empty:
            raise AssertionError(f"no message handled within {timeout}s") from None


class Back:
    name = "back"
    request_context = RequestContext()
    journal = None  # a fresh Journal per test (fixture `journal`)

    @rpc
    def whoami(self):
        log.info("back: asked")
        return current_request_id()

    @consume(EventCreated)
    def on_event_created(self, message):
        journal = self.journal
        journal.attempts[message.event_id] += 1
        if journal.attempts[message.event_id] <= journal.failures_before_success[message.event_id]:
            raise RuntimeError(f"event {message.event_id}: transient failure")
        log.info("back: handled %s", message.event_id)
        journal.handled.put((message.event_id, current_request_id()))


@pytest.fixture
def journal(monkeypatch):
    journal = Journal()
    monkeypatch.setattr(Back, "journal", journal)
    return journal


@pytest.fixture
def config(events_config):
    return {**events_config, "RPC_TIMEOUT": 5}


@pytest.fixture
def back(container_factory, config, journal):
    container = container_factory(Back, config)
    container.start()
    return container


@pytest.fixture
def as_events(config):
    """`Front`'s config: it logs in as the events service, whose messages
    `Back` believes, and may call `back` and answer the test."""
    widen_rpc(config["vhost"], "events")
    return {**config, "AMQP_URI": service_uri(config["AMQP_URI"], "events")}


@pytest.fixture
def front(container_factory, as_events, back):
    container = container_factory(Front, as_events)
    container.start()
    return container


@pytest.fixture
def json_log():
    """The JSON lines logged while the test runs (this module's at INFO),
    read with `json_log()`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service="test"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = log.level
    log.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    log.setLevel(level)
    root.removeHandler(handler)


def call_start(config, event_id, request_id=None):
    context_data = {"request_id": request_id} if request_id else None
    with ServiceRpcProxy("events", config, context_data=context_data, timeout=10) as events:
        return events.start(event_id)


def logged(json_log, message):
    """The request id of the line logged with `message` (waiting for it)."""
    line = wait_until(lambda: next((line for line in json_log() if line["message"] == message),
                                   None))
    return line.get("request_id")


def is_uuid(value):
    return UUID(value).hex == value


def test_a_request_id_travels_through_rpc_and_the_outbox_to_the_consumer(
        front, journal, config, json_log):
    seen = call_start(config, 1, request_id="r-1")

    assert seen == {"front": "r-1", "back": "r-1"}
    assert journal.next_handled() == (1, "r-1")
    for message in ["front: starting 1", "back: asked", "back: handled 1"]:
        assert logged(json_log, message) == "r-1"


def test_a_worker_given_no_request_id_gets_a_fresh_one_that_travels_on(
        front, journal, config, json_log):
    first = call_start(config, 1)
    second = call_start(config, 2)

    assert is_uuid(first["front"]) and is_uuid(second["front"])
    assert first["front"] != second["front"]
    assert first["back"] == first["front"] and second["back"] == second["front"]
    assert sorted([journal.next_handled(), journal.next_handled()]) == [
        (1, first["front"]), (2, second["front"])]
    assert logged(json_log, "front: starting 1") == first["front"]


def test_a_message_published_without_a_request_id_is_handled_with_a_fresh_one(
        back, journal, amqp_uri):
    message = event_created(1)
    publish_event(amqp_uri, message.to_payload(), message.message_id)

    event_id, request_id = journal.next_handled()
    assert event_id == 1
    assert is_uuid(request_id)


def test_the_outbox_row_records_the_request_id(container_factory, config, as_events, back,
                                               events_session):
    container = container_factory(Front, as_events)
    replace_dependencies(container, "relay")  # the row stays where the test can read it
    container.start()

    call_start(config, 1, request_id="r-1")

    assert events_session.scalars(select(outbox_table.c.headers)).all() == [{HEADER: "r-1"}]


def test_headers_given_to_the_outbox_go_with_the_request_id(events_session):
    with bound_request_id("r-1"):
        outbox.add(events_session, event_created(1), headers={"x-origin": "import"})
    outbox.add(events_session, event_created(2), headers={"x-origin": "import"})
    events_session.commit()

    headers = events_session.scalars(select(outbox_table.c.headers).order_by(outbox_table.c.id))
    assert headers.all() == [{HEADER: "r-1", "x-origin": "import"}, {"x-origin": "import"}]


def test_a_retried_message_keeps_its_request_id_and_its_retry_warning_carries_it(
        front, journal, config, json_log):
    journal.failures_before_success[1] = 1
    call_start(config, 1, request_id="r-1")

    assert journal.next_handled() == (1, "r-1")
    assert journal.attempts[1] == 2
    [warning] = [line for line in json_log() if line["logger"] == "shared.handlers"]
    assert warning["level"] == "WARNING"
    assert warning["message"].startswith("on_event_created failed")
    assert warning["request_id"] == "r-1"


def test_a_malformed_message_is_dead_lettered_with_a_log_line_carrying_its_request_id(
        back, journal, amqp_uri, json_log):
    payload = event_created(1).to_payload()
    del payload["owner_id"]
    publish_event(amqp_uri, payload, payload["message_id"], headers={HEADER: "r-1"})

    wait_until(lambda: deadletters.list_dead_letters(amqp_uri, "back"))
    [error] = [line for line in json_log() if line["logger"] == "shared.handlers"]
    assert error["level"] == "ERROR"
    assert error["message"].startswith("on_event_created gave up on a message")
    assert error["request_id"] == "r-1"
    assert journal.attempts == Counter()
