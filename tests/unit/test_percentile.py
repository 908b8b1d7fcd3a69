"""The one percentile of the benchmarks and reports: nearest-rank."""
import pytest

from bench.common import percentile


def test_a_percentile_is_the_value_at_the_nearest_rank():
    values = list(range(100, 0, -1))  # 1 to 100, unsorted

    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 0.07) == 7
    assert percentile(values, 1) == 100


def test_a_percentile_is_always_one_of_the_values():
    assert percentile([3, 1, 2, 4], 0.5) == 2  # the 2nd of 4, never 2.5
    assert percentile([1, 2, 3, 4], 0.51) == 3
    assert percentile([5], 0.99) == 5
    assert percentile([2, 1], 0) == 1


def test_a_fraction_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        percentile([1, 2, 3], 99)
