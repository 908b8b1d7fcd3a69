"""A trace travels with the request: through RPC calls, through the outbox
and the relay to the consumers of the messages it announces, and into the
log lines; against the real PostgreSQL and RabbitMQ, spans kept in memory.

`Front` (named "events": its outbox messages go out on `events.events`)
calls `Back` over RPC and announces an event; `Back` consumes it.
"""
import io
import json
import logging
from types import SimpleNamespace

import eventlet
import pytest
from eventlet import wsgi
from eventlet.queue import Queue
from nameko.standalone.rpc import ServiceRpcProxy
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind

from contracts.events.messages import EventCreated
from shared import outbox
from shared.db import Database
from shared.handlers import consume
from shared.logs import JsonFormatter
from shared.relay import OutboxRelay
from shared.rpc import Rpc, rpc
from shared.tracing import Tracing
from tests.support.broker import service_uri, widen_rpc
from tests.support.spans import is_child, record_spans
from tests.support.tap import wait_until

log = logging.getLogger(__name__)
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def current_ids():
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


class Front:
    name = "events"
    tracing = Tracing()
    db = Database()
    relay = OutboxRelay()
    back = Rpc("back")

    @rpc
    def start(self, event_id):
        log.info("front: starting %s", event_id)
        self.back.whoami()
        with self.db.transaction() as session:
            outbox.add(session, EventCreated(event_id=event_id, identifier="abcdef12",
                                             owner_id=1))
        return current_ids()


class Back:
    name = "back"
    tracing = Tracing()
    handled = None  # a fresh Queue per test: the (trace id, span id) of each handling

    @rpc
    def whoami(self):
        log.info("back: asked")
        return current_ids()

    @consume(EventCreated)
    def on_event_created(self, message):
        log.info("back: handled %s", message.event_id)
        self.handled.put(current_ids())


@pytest.fixture
def handled(monkeypatch):
    queue = Queue()
    monkeypatch.setattr(Back, "handled", queue)
    return queue


@pytest.fixture
def json_log():
    """The JSON lines this module logs while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service="test"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    log.removeHandler(handler)
    log.setLevel(logging.NOTSET)


@pytest.fixture
def spans(monkeypatch):
    return record_spans(monkeypatch)


@pytest.fixture
def config(events_config):
    return {**events_config, "RPC_TIMEOUT": 5}


@pytest.fixture
def services(container_factory, config, handled):
    return start_services(container_factory, config)


def start_services(container_factory, config):
    """`Back`, and `Front` logged in as the events service, whose messages
    `Back` believes, and which may call `back`: their containers."""
    widen_rpc(config["vhost"], "events")
    containers = [container_factory(service, service_config) for service, service_config in [
        (Back, config), (Front, {**config, "AMQP_URI": service_uri(config["AMQP_URI"], "events")})]]
    for container in containers:
        container.start()
    return containers


@pytest.fixture
def collector():
    """A stand-in OTLP/HTTP collector: its base URL, and the export
    requests it was sent, parsed (`collector.received`)."""
    received = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ["PATH_INFO"] == "/v1/traces":
            received.append(ExportTraceServiceRequest.FromString(body))
        start_response("200 OK", [("Content-Type", "application/x-protobuf")])
        return [b""]

    sock = eventlet.listen(("127.0.0.1", 0))
    server = eventlet.spawn(wsgi.server, sock, app, log_output=False)
    yield SimpleNamespace(url=f"http://127.0.0.1:{sock.getsockname()[1]}", received=received)
    server.kill()
    sock.close()


def call_start(config, context_data=None):
    with ServiceRpcProxy("events", config, context_data=context_data, timeout=10) as events:
        return events.start(1)


def logged(json_log, message):
    return wait_until(lambda: next((line for line in json_log() if line["message"] == message),
                                   None))


def test_one_trace_through_rpc_the_outbox_the_relay_and_the_consumer(
        spans, services, config, handled, json_log):
    call_start(config)
    handled.get(timeout=10)

    start = spans.one("events", "events.start")
    call = spans.one("events", "back.whoami")
    answer = spans.one("back", "back.whoami")
    publish = spans.one("events", "publish event.created")
    handler = spans.one("back", "back.on_event_created")
    assert start.parent is None and start.kind == SpanKind.SERVER
    assert is_child(call, start) and call.kind == SpanKind.CLIENT
    assert is_child(answer, call) and answer.kind == SpanKind.SERVER
    assert is_child(publish, start) and publish.kind == SpanKind.PRODUCER
    assert is_child(handler, publish) and handler.kind == SpanKind.CONSUMER
    for span, message in [(start, "front: starting 1"), (answer, "back: asked"),
                          (handler, "back: handled 1")]:
        line = logged(json_log, message)
        assert line["trace_id"] == trace.format_trace_id(span.context.trace_id)
        assert line["span_id"] == trace.format_span_id(span.context.span_id)


def test_a_caller_s_trace_is_continued_and_a_malformed_one_ignored(spans, services, config,
                                                                    handled):
    assert call_start(config, {"traceparent": TRACEPARENT})[0] == TRACE_ID
    assert spans.one("events", "events.start").parent.span_id == 0xB7AD6B7169203331
    assert handled.get(timeout=10)[0] == TRACE_ID

    fresh = call_start(config, {"traceparent": "00-nonsense"})[0]
    assert fresh != TRACE_ID
    assert handled.get(timeout=10)[0] == fresh


def test_without_a_collector_nothing_is_recorded_but_a_trace_given_travels_on(
        services, config, handled):
    front_ids = tuple(call_start(config, {"traceparent": TRACEPARENT}))
    assert front_ids == (TRACE_ID, "b7ad6b7169203331")  # the caller's span: none of its own
    assert handled.get(timeout=10) == front_ids


def test_with_a_collector_each_service_sends_its_spans_by_otlp(collector, config, handled,
                                                                 container_factory):
    config = {**config, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
    containers = start_services(container_factory, config)
    call_start(config)
    handled.get(timeout=10)
    for container in containers:
        container.stop()  # sends what is left in the batch

    sent = {(service_name(resource), span.name)
            for request in collector.received for resource in request.resource_spans
            for scope in resource.scope_spans for span in scope.spans}
    assert sent == {("events", "events.start"), ("events", "back.whoami"),
                    ("events", "publish event.created"), ("back", "back.whoami"),
                    ("back", "back.on_event_created")}


def service_name(resource_spans):
    [name] = [attribute.value.string_value for attribute in resource_spans.resource.attributes
              if attribute.key == "service.name"]
    return name
