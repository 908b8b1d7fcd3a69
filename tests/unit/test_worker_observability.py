"""What `Metrics` and `Tracing` do for each worker of a real container, and
that each does nothing for it with its switch off (`METRICS_ENABLED`,
`TRACING_ENABLED`: what they cost can then be measured); no broker."""
import pytest
from nameko.testing.services import dummy, entrypoint_hook
from opentelemetry import trace

from shared.metrics import Metrics, metrics_of
from shared.tracing import Tracing, carrier
from tests.support.spans import record_spans


class Watched:
    name = "watched"
    metrics = Metrics()
    tracing = Tracing()

    @dummy
    def work(self):
        """What the worker sees of both: the workers busy, whether it runs in a span."""
        return (self.metrics.registry.get_sample_value("workers_busy"),
                trace.get_current_span().get_span_context().is_valid)

    @dummy
    def passes_on(self):
        """The trace context the worker's calls and messages carry."""
        return carrier()["traceparent"]


@pytest.mark.parametrize("metrics_on", [True, False])
@pytest.mark.parametrize("tracing_on", [True, False])
def test_a_worker_is_counted_and_traced_unless_switched_off(
    container_factory, monkeypatch, metrics_on, tracing_on
):
    spans = record_spans(monkeypatch)
    container = container_factory(Watched, {
        "AMQP_URI": "memory://", "ENVIRONMENT": "test", "METRICS_ADDRESS": "",
        "METRICS_ENABLED": metrics_on, "TRACING_ENABLED": tracing_on})
    container.start()

    with entrypoint_hook(container, "work") as work:
        busy, in_span = work()

    registry = metrics_of(container).registry
    calls = registry.get_sample_value("entrypoint_calls_total", {
        "kind": "entrypoint", "entrypoint": "work", "outcome": "success"})
    timed = registry.get_sample_value("entrypoint_seconds_count",
                                      {"kind": "entrypoint", "entrypoint": "work"})
    assert (busy, calls, timed) == ((1, 1, 1) if metrics_on else (0, None, None))
    assert registry.get_sample_value("workers_busy") == 0
    assert in_span is tracing_on
    assert [span.name for span in spans.all()] == (["watched.work"] if tracing_on else [])


FLAGS = {"sampled": "01", "unsampled": "00"}


@pytest.mark.parametrize("arriving, recorded", [
    (None, False),  # a trace started here, which the ratio 0 leaves out
    ("sampled", True), ("unsampled", False)])  # the caller's choice stands
def test_a_trace_is_recorded_whole_or_not_at_all(container_factory, monkeypatch, arriving,
                                                 recorded):
    spans = record_spans(monkeypatch)
    container = container_factory(Watched, {
        "AMQP_URI": "memory://", "ENVIRONMENT": "test", "METRICS_ADDRESS": "",
        "TRACE_SAMPLE_RATIO": 0})
    container.start()
    context_data = ({"traceparent": f"00-{'a' * 32}-{'b' * 16}-{FLAGS[arriving]}"}
                    if arriving else {})

    with entrypoint_hook(container, "passes_on", context_data=context_data) as passes_on:
        passed_on = passes_on()

    assert [span.name for span in spans.all()] == (["watched.passes_on"] if recorded else [])
    assert bool(int(passed_on[-2:], 16) & 1) is recorded  # the sampled flag: callees follow it
    if arriving:
        assert passed_on.split("-")[1] == "a" * 32
