"""Prometheus metrics: what each service does, counted in a registry of its
own (a test process may run several containers) and served as the
exposition format at `/metrics` on `METRICS_ADDRESS` (empty: not served),
by a small server of its own, apart from the gateway's public routes.

`metrics = Metrics()` on a service counts every entrypoint (an RPC method,
a message handler, an HTTP route by its template, never the raw path) by
outcome, with its latency, and the workers busy (none of it with
`METRICS_ENABLED` off, to measure what it costs). The shared machinery adds
its own counts through `metrics_of(container)` (an extension) or
`current()` (code a worker runs). `ServiceMetrics` is the one list of the
metric names; no label carries an email, a token or a user's id.

Outcomes: `success`; `refused`, an expected answer (a `ServiceError`
other than `Unavailable`: not found, denied, invalid, …, the caller's
business); `error`, anything else (the service's own failure).
"""
import logging
import time
from contextvars import ContextVar

import eventlet
from eventlet import wsgi
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from shared.errors import ServiceError, Unavailable
from shared.settings import ServiceSettings, settings_of

log = logging.getLogger(__name__)

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_current = ContextVar("metrics", default=None)


def outcome(exc):
    """`success`, `refused` or `error` for an entrypoint that raised `exc` (or None)."""
    if exc is None:
        return "success"
    if isinstance(exc, ServiceError) and not isinstance(exc, Unavailable):
        return "refused"
    return "error"


class ServiceMetrics:
    """Every metric a service may expose, in `registry`."""

    def __init__(self):
        self.registry = registry = CollectorRegistry()

        def counter(name, doc, labels=()):
            return Counter(name, doc, labels, registry=registry)

        def gauge(name, doc, labels=()):
            return Gauge(name, doc, labels, registry=registry)

        self.entrypoint_calls = counter(
            "entrypoint_calls", "entrypoints run, by kind (rpc, handler, http), name (an RPC "
            "method, a handler's queue, an HTTP route's method and template) and outcome",
            ("kind", "entrypoint", "outcome"))
        self.entrypoint_seconds = Histogram(
            "entrypoint_seconds", "an entrypoint's time, from its worker's start to its end",
            ("kind", "entrypoint"), buckets=SECONDS, registry=registry)
        self.workers_busy = gauge("workers_busy", "workers running now")
        self.workers_max = gauge("workers_max", "workers the service may run at once")
        self.rpc_calls = counter(
            "rpc_calls_out", "RPC calls made, by target service, method and outcome (success, "
            "refused, error, timeout, unavailable)", ("target", "method", "outcome"))
        self.relay_published = counter("relay_published", "outbox messages the relay published")
        self.relay_confirmed = counter("relay_confirmed",
                                       "outbox messages the broker confirmed (then deleted)")
        self.inbox_duplicates = counter("inbox_duplicates_skipped",
                                        "deliveries skipped as already handled, by consumer",
                                        ("consumer",))
        self.handler_retries = counter("handler_retries", "failed handlings parked for a retry, "
                                       "by queue", ("queue",))
        self.dead_letters = counter("dead_letters", "messages dead-lettered, by the queue they "
                                    "failed from", ("queue",))
        self.rate_limited = counter("rate_limit_refusals", "requests refused by a rate limit, "
                                    "by limit", ("limit",))
        self.read_cache = counter(
            "read_cache", "the gateway's reads by what was read (session, access, event, "
            "children, my_events, public_events) and result: hit (from the read cache), miss "
            "(asked of the service, then kept) or unavailable (Redis away: asked)",
            ("read", "result"))
        self.read_cache_bump_failures = counter(
            "read_cache_bump_failures", "transactions whose changed versions could not be "
            "bumped in the read cache at once (tried again until it takes or "
            "READ_CACHE_SECONDS has passed)")
        self.mails = counter("mails", "mails by kind and outcome (sent, refused, not_due)",
                             ("kind", "outcome"))
        self.webhook_deliveries = counter(
            "webhook_deliveries", "webhook deliveries by endpoint (its id) and outcome "
            "(success, failure): `services/webhooks` counts here", ("endpoint", "outcome"))
        self.probes = Probes()
        registry.register(self.probes)

    def probe(self, name, doc, read, labels=(), counter=False):
        """A gauge read when scraped: `read()` answers its value or, with
        `labels` naming them, `{label values: value}`; with `counter`, a
        counter kept elsewhere (a table's totals), exposed as `{name}_total`."""
        self.probes.add(name, doc, read, labels, counter)


class Probes:
    """A collector of gauges (and counters) read at scrape time (pool sizes,
    backlogs); one that fails is left out of that scrape, and logged."""

    def __init__(self):
        self.read = {}

    def add(self, name, doc, read, labels=(), counter=False):
        self.read[name] = (doc, read, labels,
                           CounterMetricFamily if counter else GaugeMetricFamily)

    def describe(self):
        return []

    def collect(self):
        for name, (doc, read, labels, kind) in list(self.read.items()):
            try:
                value = read()
            except Exception as exc:
                log.warning("metric %s not read: %r", name, exc)
                continue
            if labels:
                family = kind(name, doc, labels=labels)
                for label_values, number in value.items():
                    family.add_metric(label_values, number)
            else:
                family = kind(name, doc, value=value)
            yield family


DISCARDED = ServiceMetrics()  # counts of code outside any service with `Metrics`


def metrics_of(container):
    """The `ServiceMetrics` of `container`'s `Metrics`, or ones nobody serves."""
    for provider in getattr(container, "dependencies", ()):
        if isinstance(provider, Metrics):
            return provider.metrics
    return DISCARDED


def current():
    """The `ServiceMetrics` of the service whose worker this green thread runs."""
    return _current.get() or DISCARDED


def entrypoint_labels(entrypoint):
    """(kind, name): an HTTP route by its method and template, a handler by
    its queue, an RPC method by its name; any other (a timer) by its class
    and method."""
    path = getattr(entrypoint, "path", None) or getattr(entrypoint, "url", None)
    if path is not None and hasattr(entrypoint, "method"):
        return "http", f"{entrypoint.method} {path}"
    if hasattr(entrypoint, "message_type"):
        return "handler", entrypoint.queue.name
    if isinstance(entrypoint, Rpc):
        return "rpc", entrypoint.method_name
    return type(entrypoint).__name__.lower(), entrypoint.method_name


class Metrics(DependencyProvider):
    """The service's metrics, counted per worker and served at `/metrics`."""

    def __init__(self):
        self.metrics = ServiceMetrics()
        self._server = None

    def setup(self):
        settings = settings_of(self.container, ServiceSettings)
        self.address = settings.METRICS_ADDRESS
        self.enabled = settings.METRICS_ENABLED
        self.metrics.workers_max.set(self.container.max_workers)
        self._started = {}
        self._labelled = {}  # (entrypoint, outcome) -> its counters

    def start(self):
        if self.address:
            host, _, port = self.address.rpartition(":")
            try:
                sock = eventlet.listen((host or "0.0.0.0", int(port)))
            except OSError as exc:  # the service works on, unwatched: say so loudly
                log.error("metrics not served at %s: %s", self.address, exc)
                return
            app = make_wsgi_app(self.metrics.registry)
            self._server = self.container.spawn_managed_thread(
                lambda: wsgi.server(sock, app, log_output=False, socket_timeout=10))
            log.info("metrics at http://%s/metrics", self.address)

    def stop(self):
        if self._server is not None:
            self._server.kill()
            self._server = None

    kill = stop

    def worker_setup(self, worker_ctx):
        _current.set(self.metrics)  # the counts of the worker's own code, on or off
        if self.enabled:
            self._started[worker_ctx] = time.perf_counter()
            self.metrics.workers_busy.inc()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        if not self.enabled:
            return
        exc = exc_info[1] if exc_info else None
        calls, seconds = self._counters(worker_ctx.entrypoint, outcome(exc))
        calls.inc()
        started = self._started.pop(worker_ctx, None)
        if started is not None:
            seconds.observe(time.perf_counter() - started)

    def _counters(self, entrypoint, result):
        """The entrypoint's call counter for `result` and its histogram,
        labelled once (labelling costs more than counting)."""
        counters = self._labelled.get((entrypoint, result))
        if counters is None:
            kind, name = entrypoint_labels(entrypoint)
            counters = self._labelled[entrypoint, result] = (
                self.metrics.entrypoint_calls.labels(kind, name, result),
                self.metrics.entrypoint_seconds.labels(kind, name))
        return counters

    def worker_teardown(self, worker_ctx):
        if not self.enabled:
            return
        self._started.pop(worker_ctx, None)
        self.metrics.workers_busy.dec()

    def get_dependency(self, worker_ctx):
        return self.metrics
