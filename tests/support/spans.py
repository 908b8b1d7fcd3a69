"""The spans the services under test record, kept in memory (the SDK's
`InMemorySpanExporter`) in place of an OTLP collector: `record_spans`
gives every `Tracing` set up afterwards an exporter the test reads."""
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing
from tests.support.tap import wait_until


def record_spans(monkeypatch):
    """Every service started from now on exports its spans to the `Spans`
    returned."""
    exporter = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "span_processor", lambda settings: SimpleSpanProcessor(exporter))
    return Spans(exporter)


class Spans:
    def __init__(self, exporter):
        self.exporter = exporter

    def all(self):
        return self.exporter.get_finished_spans()

    def one(self, service, name, trace_id=None, timeout=10.0):
        """The finished span `name` of `service` (in trace `trace_id`, if
        given), waiting for it; the only one."""
        found = wait_until(lambda: self.named(service, name, trace_id), timeout=timeout)
        assert found, f"no span {name!r} of {service} within {timeout}s: {self.names()}"
        assert len(found) == 1, f"{len(found)} spans {name!r} of {service}"
        return found[0]

    def named(self, service, name, trace_id=None):
        return [span for span in self.all() if span.name == name
                and span.resource.attributes["service.name"] == service
                and trace_id in (None, span.context.trace_id)]

    def names(self):
        return sorted((span.resource.attributes["service.name"], span.name) for span in self.all())


def is_child(span, parent):
    """Whether `span` is a child of `parent`, in its trace."""
    return (span.parent is not None and span.parent.span_id == parent.context.span_id
            and span.context.trace_id == parent.context.trace_id)
