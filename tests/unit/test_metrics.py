"""What the gateway's own parts count (`shared.metrics`): refusals by rate
limit; and how an entrypoint's outcome is told. (The read cache's counts:
tests/integration/test_read_cache.py.)"""
import pytest
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from services.gateway.exceptions import RateLimited
from services.gateway.ratelimits import BUDGETS, Limiter
from shared.errors import NotFound, Outage, PermissionDenied
from shared.metrics import ServiceMetrics, outcome


def count(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels) or 0


def test_a_refusal_is_counted_by_its_limit_and_not_by_who():
    metrics = ServiceMetrics()
    budgets = {name: "1000 per minute" for name in BUDGETS} | {"write": "1 per minute"}
    limiter = Limiter(MovingWindowRateLimiter(MemoryStorage()), budgets,
                      refusals=metrics.rate_limited)
    limiter.write(7)
    with pytest.raises(RateLimited):
        limiter.write(7)

    assert count(metrics, "rate_limit_refusals_total", limit="write") == 1
    assert count(metrics, "rate_limit_refusals_total", limit="sign_in_account") == 0


@pytest.mark.parametrize("exc, expected", [
    (None, "success"),
    (NotFound("no such event"), "refused"),
    (PermissionDenied("no"), "refused"),
    (Outage("the database is away"), "error"),
    (KeyError("bug"), "error"),
])
def test_an_expected_answer_is_refused_and_anything_else_an_error(exc, expected):
    assert outcome(exc) == expected
