"""The latency histogram behind complete latency: quantiles within its bucket precision."""

from __future__ import annotations

import random

import pytest

from squall.compute.metrics import LatencyHistogram


def exact_quantile(data: list[float], q: float) -> float:
    ordered = sorted(data)
    return ordered[max(0, int(q * len(ordered) + 0.999999) - 1)]


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_quantiles_within_bucket_precision(q: float) -> None:
    rng = random.Random(7)
    data = [rng.lognormvariate(-7, 1.2) for _ in range(20_000)]  # ~1 ms, long tail
    h = LatencyHistogram()
    for x in data:
        h.record(x)
    truth = exact_quantile(data, q)
    got = h.quantile(q)
    # upper edge of a bucket 1/16 of a power of two wide: never below, at most ~7% above
    assert truth * 0.999 <= got <= truth * 1.07 + 1e-6, (q, truth, got)


def test_merge_equals_recording_everything_in_one() -> None:
    rng = random.Random(3)
    data = [rng.uniform(0, 0.05) for _ in range(5000)]
    one, a, b = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for i, x in enumerate(data):
        one.record(x)
        (a if i % 2 else b).record(x)
    a.merge(b)
    assert a.count == one.count == 5000 and a.buckets == one.buckets
    assert LatencyHistogram().quantile(0.99) == 0.0
