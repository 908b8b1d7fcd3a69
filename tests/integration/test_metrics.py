"""`shared.metrics` in a real container, against the real RabbitMQ and
PostgreSQL: each container counts in a registry of its own and serves it
on its own port (two in one process do not mix), a scrape needs no Accept
header, and a handler's successes, failures, retries, dead letters and
skipped duplicates are counted."""
import http.client

import pytest

from contracts.events.messages import EventCreated
from shared.db import Database
from shared.handlers import consume
from shared.inbox import apply_once
from shared.metrics import Metrics
from tests.support.broker import publish_event
from tests.support.metrics import await_sample, scrape, value
from tests.support.system import free_port

POISON = 13
QUEUE = "evt-events-event.created--metered.on_event_created"
CALLS = "entrypoint_calls_total"


class Metered:
    name = "metered"
    db = Database()
    metrics = Metrics()

    @consume(EventCreated)
    def on_event_created(self, message):
        if message.event_id == POISON:
            raise RuntimeError("poison")
        apply_once(self.db, self.name, message, lambda session, message: None)


class Quiet:
    name = "quiet"
    metrics = Metrics()


@pytest.fixture
def metered(container_factory, events_config):
    """{name: its metrics URL} of a Metered and a Quiet container, each serving its own."""
    urls = {}
    for service in (Metered, Quiet):
        port = free_port()
        container_factory(service, {**events_config,
                                    "METRICS_ADDRESS": f"127.0.0.1:{port}"}).start()
        urls[service.name] = f"http://127.0.0.1:{port}/metrics"
    return urls


def message(event_id):
    return EventCreated(event_id=event_id, identifier="abcdef12", owner_id=7)


def test_a_scrape_needs_no_accept_header(metered):
    connection = http.client.HTTPConnection(metered["quiet"].split("/")[2], timeout=5)
    connection.putrequest("GET", "/metrics", skip_accept_encoding=True)
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 200
    assert b"workers_max 10.0" in answer.read()


def test_handlings_retries_dead_letters_and_duplicates_are_counted(metered, amqp_uri):
    url = metered["metered"]
    once = message(1)
    publish_event(amqp_uri, once.to_payload(), once.message_id)
    publish_event(amqp_uri, once.to_payload(), once.message_id)  # delivered again
    poison = message(POISON)
    publish_event(amqp_uri, poison.to_payload(), poison.message_id)

    handled = {"kind": "handler", "entrypoint": QUEUE}
    await_sample(url, "dead_letters_total", lambda count: count == 1, queue=QUEUE)
    await_sample(url, CALLS, lambda count: count == 2, **handled, outcome="success")
    samples = scrape(url)
    assert value(samples, "inbox_duplicates_skipped_total",
                 consumer="metered.event.created") == 1
    assert value(samples, "handler_retries_total", queue=QUEUE) == 2  # HANDLER_RETRY_DELAYS
    assert value(samples, CALLS, **handled, outcome="error") == 3
    assert value(samples, "entrypoint_seconds_count", **handled) == 5
    assert value(samples, "workers_busy") == 0
    await_sample(url, "dead_letter_queue_messages", lambda depth: depth == 1,
                 queue="metered.dead-letters")
    assert value(scrape(metered["quiet"]), CALLS, **handled, outcome="success") == 0
