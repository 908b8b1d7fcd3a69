"""The trace context as headers, the relay's publish spans, where spans
are exported, and the trace in the log lines (`shared.tracing`,
`shared.logs`); no broker. The context crossing RPC and messages between
running services: tests/integration/test_tracing.py."""
import json
import logging
from types import SimpleNamespace

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.logs import JsonFormatter
from shared.tracing import NO_TRACER, message_headers, parent_of, publishing, span_processor
from tests.support.spans import is_child

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter):
    provider = TracerProvider(resource=Resource.create({"service.name": "events"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer(__name__)


def settings(endpoint=""):
    return SimpleNamespace(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)


def row(event_type="event.copied", headers=None):
    return SimpleNamespace(message_id="m-1", event_type=event_type, payload={"event_id": 1},
                           headers=headers)


def test_the_current_span_travels_as_a_nameko_traceparent_header(tracer):
    with tracer.start_as_current_span("events.copy_event") as span:
        headers = message_headers()

    assert list(headers) == ["nameko.traceparent"]
    sent = trace.get_current_span(parent_of(headers)).get_span_context()
    assert (sent.trace_id, sent.span_id) == (span.get_span_context().trace_id,
                                             span.get_span_context().span_id)


def test_no_current_span_means_no_header():
    assert message_headers() == {}


def test_context_data_without_the_prefix_is_read_alike():
    context = trace.get_current_span(parent_of({"traceparent": TRACEPARENT})).get_span_context()
    assert (context.trace_id, context.span_id) == (0x0AF7651916CD43DD8448EB211C80319C,
                                                   0xB7AD6B7169203331)


@pytest.mark.parametrize("value", ["nonsense", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", 7])
def test_a_malformed_traceparent_is_no_parent(value):
    context = parent_of({"nameko.traceparent": value, "nameko.request_id": "r-1"})
    assert not trace.get_current_span(context).get_span_context().is_valid


def test_each_row_goes_out_in_a_producer_span_of_the_span_that_wrote_it(tracer, exporter):
    with tracer.start_as_current_span("events.copy_event") as writer:
        written = row(headers={"nameko.request_id": "r-1", **message_headers()})

    with publishing(tracer, [written, row("event.created")]) as outgoing:
        assert exporter.get_finished_spans()[-1].name == "events.copy_event"  # not yet ended

    copy, publish, unrelated = exporter.get_finished_spans()
    assert (publish.name, publish.kind) == ("publish event.copied", SpanKind.PRODUCER)
    assert is_child(publish, copy) and copy.context.span_id == writer.get_span_context().span_id
    assert unrelated.parent is None  # a row written outside any span
    assert outgoing[0].headers["nameko.request_id"] == "r-1"
    sent = trace.get_current_span(parent_of(outgoing[0].headers)).get_span_context()
    assert sent.span_id == publish.context.span_id


def test_a_failed_publish_is_an_error_in_each_span(tracer, exporter):
    with pytest.raises(TimeoutError), publishing(tracer, [row()]):
        raise TimeoutError("no publisher confirm")

    [span] = exporter.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR


def test_without_a_tracer_the_rows_go_out_as_written():
    rows = [row(headers={"nameko.traceparent": TRACEPARENT})]
    with publishing(NO_TRACER, rows) as outgoing:
        assert outgoing is rows


def test_spans_are_exported_only_when_a_collector_is_set():
    assert span_processor(settings()) is None
    processor = span_processor(settings("http://collector.test:4318/"))
    try:
        assert isinstance(processor, BatchSpanProcessor)
        assert processor._batch_processor._exporter._endpoint == (
            "http://collector.test:4318/v1/traces")
    finally:
        processor.shutdown()


def log_line():
    record = logging.LogRecord("services.events.copy", logging.INFO, __file__, 1, "copied", (),
                               None)
    return json.loads(JsonFormatter(service="events").format(record))


def test_a_line_logged_in_a_span_carries_its_trace_and_span_ids(tracer):
    with tracer.start_as_current_span("events.copy_event") as span:
        line = log_line()

    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in log_line() and "span_id" not in log_line()
