"""Traces: one per HTTP request, through every RPC call and message handler
it causes, with the OpenTelemetry SDK.

Each worker runs in a span (`Tracing`, a dependency of every service),
named by its entrypoint: the route (`GET /v1/events/{event}`), the RPC
method or the handler (`events.copy_event`, `media.on_event_copied`). Its
parent travels as the W3C `traceparent` the way the request id does
(`shared.context`):

- in the worker's context data, which nameko sends with every RPC call as
  `nameko.traceparent`; a call itself is a client span, which its request
  carries in place of the worker's (`TracedServiceProxy`, for `shared.rpc`);
- in an outbox row's headers (`shared.outbox.add`), so the relay's publish
  span (`publishing`) is a child of the span that wrote the row, and the
  consuming handler a child of the publish span.

The gateway starts every trace: a client's `traceparent` is not believed.
A service records the share `TRACE_SAMPLE_RATIO` of the traces it starts
(by trace id); the rest are passed on unsampled, and a trace's every later
span follows its first one, so a trace is recorded whole or not at all.
Spans are exported by OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT`; without
one nothing is recorded or sent, but a context that arrives is passed on,
so a service without a collector does not break the trace of one with.
With `TRACING_ENABLED` off a worker gets no span and nothing is done per
worker (to measure what tracing costs): a context that arrives goes on in
the context data of its RPC calls, as nameko passes it, not in messages.
"""
from contextlib import contextmanager
from types import SimpleNamespace
from weakref import WeakKeyDictionary

from nameko.constants import HEADER_PREFIX
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import MethodProxy, ServiceProxy
from nameko.rpc import Rpc as RpcEntrypoint
from nameko.web.handlers import HttpRequestHandler
from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.settings import ServiceSettings, settings_of

PROPAGATOR = TraceContextTextMapPropagator()  # traceparent and tracestate
NO_TRACER = trace.NoOpTracer()


def span_processor(settings):
    """Where a service's finished spans go: in batches to the OTLP/HTTP
    collector `OTEL_EXPORTER_OTLP_ENDPOINT`, or nowhere (None)."""
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"))


def carrier(ctx=None):
    """The current context (or `ctx`) as W3C headers: `{"traceparent": …}`."""
    headers = {}
    PROPAGATOR.inject(headers, context=ctx)
    return headers


def message_headers(ctx=None):
    """The AMQP headers that carry the current context to a consumer."""
    return {f"{HEADER_PREFIX}.{key}": value for key, value in carrier(ctx).items()}


def parent_of(headers):
    """The context `headers` carry (nameko context data, or AMQP headers
    with the `nameko.` prefix), or an empty one."""
    prefix = f"{HEADER_PREFIX}."
    return PROPAGATOR.extract({key.removeprefix(prefix): value for key, value in headers.items()
                               if isinstance(value, str)})


def tracer_of(container):
    """The tracer of the container's `Tracing`; a no-op one without."""
    for provider in getattr(container, "dependencies", ()):
        if isinstance(provider, Tracing):
            return provider.tracer
    return NO_TRACER


def span_name(worker_ctx):
    entrypoint = worker_ctx.entrypoint
    if isinstance(entrypoint, HttpRequestHandler):
        return f"{entrypoint.method} {getattr(entrypoint, 'path', entrypoint.url)}"
    return f"{worker_ctx.service_name}.{entrypoint.method_name}"


def span_kind(entrypoint):
    if isinstance(entrypoint, HttpRequestHandler | RpcEntrypoint):
        return SpanKind.SERVER
    if isinstance(entrypoint, EventHandler):
        return SpanKind.CONSUMER
    return SpanKind.INTERNAL


class Tracing(DependencyProvider):
    """Every worker runs in a span, a child of the context it was given,
    and current while it runs; its context data carries the span on."""

    def setup(self):
        self._spans = WeakKeyDictionary()
        settings = settings_of(self.container, ServiceSettings)
        self.enabled = settings.TRACING_ENABLED
        processor = span_processor(settings) if self.enabled else None
        self.provider = None
        self.tracer = NO_TRACER
        if processor is not None:
            resource = Resource.create({"service.name": self.container.service_name})
            sampler = ParentBased(TraceIdRatioBased(settings.TRACE_SAMPLE_RATIO))
            self.provider = TracerProvider(resource=resource, sampler=sampler)
            self.provider.add_span_processor(processor)
            self.tracer = self.provider.get_tracer(__name__)

    def stop(self):
        if self.provider is not None:
            self.provider.shutdown()  # sends what is left

    kill = stop

    def worker_setup(self, worker_ctx):
        if not self.enabled:
            return  # nor do the hooks below find a span
        parent = parent_of(worker_ctx.context_data)
        if self.provider is None and not trace.get_current_span(parent).get_span_context().is_valid:
            return  # nothing to record and no trace to pass on (the gateway without a collector)
        span = self.tracer.start_span(span_name(worker_ctx), parent,
                                      span_kind(worker_ctx.entrypoint))
        token = context.attach(trace.set_span_in_context(span))
        self._spans[worker_ctx] = span, token
        worker_ctx.data.update(carrier())

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        span, _ = self._spans.get(worker_ctx, (None, None))
        if span is None or not span.is_recording():
            return
        if exc_info is not None:
            span.record_exception(exc_info[1])
            span.set_status(Status(StatusCode.ERROR, type(exc_info[1]).__name__))
        elif isinstance(getattr(result, "status_code", None), int):
            span.set_attribute("http.response.status_code", result.status_code)

    def worker_teardown(self, worker_ctx):
        span, token = self._spans.pop(worker_ctx, (None, None))
        if span is not None:
            span.end()
            context.detach(token)


class TracedServiceProxy(ServiceProxy):
    """nameko's, each call of which is a client span of `tracer`'s."""

    def __init__(self, tracer, worker_ctx, service_name, reply_listener, **options):
        super().__init__(worker_ctx, service_name, reply_listener, **options)
        self.tracer = tracer

    def __getattr__(self, name):
        return TracedMethodProxy(self.tracer, self.worker_ctx, self.service_name, name,
                                 self.reply_listener, **self.options)


class TracedMethodProxy(MethodProxy):
    """A call in a client span, which its request carries to the callee and
    which ends with the answer (or the wait's end)."""

    def __init__(self, tracer, *args, **options):
        super().__init__(*args, **options)
        self.tracer = tracer
        self._span_context = None

    def call_async(self, *args, **kwargs):
        span = self.tracer.start_span(f"{self.service_name}.{self.method_name}",
                                      kind=SpanKind.CLIENT)
        self._span_context = trace.set_span_in_context(span)
        try:
            return SpanReply(super().call_async(*args, **kwargs), span)
        except BaseException as exc:
            _end(span, exc)
            raise

    def get_message_headers(self, worker_ctx):
        return {**super().get_message_headers(worker_ctx), **message_headers(self._span_context)}


class SpanReply:
    """nameko's `RpcReply`, whose `result()` ends the call's span."""

    def __init__(self, reply, span):
        self._reply, self._span = reply, span

    def result(self):
        try:
            result = self._reply.result()
        except BaseException as exc:  # an error answered, or the wait given up
            _end(self._span, exc)
            raise
        _end(self._span)
        return result


def _end(span, exc=None):
    if exc is not None and span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
    span.end()


@contextmanager
def publishing(tracer, rows):
    """A producer span per outbox row, each a child of the span that wrote
    the row; yields the rows as they go out, carrying their spans. The
    spans end when the block does (the broker has confirmed, or not)."""
    if tracer is NO_TRACER:  # the rows' own headers carry their context on
        yield rows
        return
    spans = [tracer.start_span(f"publish {row.event_type}", parent_of(row.headers or {}),
                               SpanKind.PRODUCER) for row in rows]
    outgoing = [SimpleNamespace(
        message_id=row.message_id, event_type=row.event_type, payload=row.payload,
        headers={**(row.headers or {}), **message_headers(trace.set_span_in_context(span))})
        for row, span in zip(rows, spans, strict=True)]
    try:
        yield outgoing
    except BaseException as exc:
        for span in spans:
            _end(span, exc)
        raise
    for span in spans:
        span.end()
