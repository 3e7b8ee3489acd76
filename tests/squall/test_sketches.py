"""The sketch kinds: unions of objects and of serialized bytes agree with each other
and with the truth, within the sketch's error; corrupt bytes are refused by name."""

from __future__ import annotations

import random

import pytest
from datasketches import quantiles_doubles_sketch

from squall.exceptions import RowFormatError
from squall.schema import QUANTILES_K
from squall.sketches import HLL, QUANTILES, hll_estimate, quantiles

EPS = quantiles_doubles_sketch.get_normalized_rank_error(QUANTILES_K, False)


def _parts(seed: int) -> tuple[list[list[float]], list[list[str]]]:
    rng = random.Random(seed)
    numbers = [[rng.expovariate(1 / 50) for _ in range(rng.randrange(1, 400))] for _ in range(9)]
    users = [[f"u{rng.randrange(5000)}" for _ in range(rng.randrange(1, 900))] for _ in range(9)]
    return numbers, users


def test_unions_of_objects_and_of_bytes_agree_with_the_truth() -> None:
    numbers, users = _parts(7)
    latency, people = [], []
    for part in numbers:
        sketch = QUANTILES.new()
        for x in part:
            sketch.update(x)
        latency.append(sketch)
    for part in users:
        sketch = HLL.new()
        for u in part:
            sketch.update(u)
        people.append(sketch)
    blobs = [None, *(QUANTILES.blob(QUANTILES.encode(s), "l") for s in latency)]
    merged = QUANTILES.deserialize(QUANTILES.merge_blobs(blobs))
    assert merged.n == QUANTILES.union(latency).n == sum(map(len, numbers))
    truth = sorted(x for part in numbers for x in part)
    # compaction in a merge is randomised: each answer within the error of the truth
    for q, got in zip((0.5, 0.99), quantiles(blobs, (0.5, 0.99)), strict=True):
        for value in (got, merged.get_quantile(q)):
            at_or_below = sum(x <= value for x in truth) / len(truth)
            assert q - EPS <= at_or_below <= q + EPS + 1 / len(truth)

    distinct = len({u for part in users for u in part})
    hll_blobs = [HLL.blob(HLL.encode(s), "u") for s in people]
    union = HLL.union(people)
    assert hll_estimate(hll_blobs) == pytest.approx(union.get_estimate())
    assert union.get_lower_bound(3) <= distinct <= union.get_upper_bound(3)
    again = HLL.deserialize(HLL.merge_blobs(hll_blobs))
    assert again.get_estimate() == pytest.approx(union.get_estimate())


def test_nothing_merges_to_nothing() -> None:
    assert QUANTILES.union([None]) is None and HLL.merge_blobs([]) is None
    assert quantiles([None], (0.5,)) == [None] and hll_estimate([]) == 0.0
    assert QUANTILES.encode(QUANTILES.new()) is None  # an empty sketch travels as null
    assert QUANTILES.blob(None, "c") is None and QUANTILES.blob("", "c") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64!", "col is not valid base64"),
        (12, "col must be a base64 string or null, not int"),
        ("AAECZ2FyYmFnZQ==", "col is not a serialized DataSketches hll sketch"),
    ],
)
def test_corrupt_sketches_are_refused_by_column(value: object, message: str) -> None:
    with pytest.raises(RowFormatError, match=message):
        HLL.blob(value, "col")


@pytest.mark.parametrize("size", [1, 300, 5_000, 60_000])
def test_one_sketch_is_read_as_its_union_would_be(size: int) -> None:
    # quantiles() and hll_estimate() skip the union for a single sketch; [blob, None]
    # still takes the union path, so the two answers must be identical, not just close
    rng = random.Random(size)
    latency, users = QUANTILES.new(), HLL.new()
    for _ in range(size):
        latency.update(rng.lognormvariate(3.5, 0.8))
        users.update(f"user-{rng.randrange(size * 2)}")
    raw = (QUANTILES.blob(QUANTILES.encode(latency), "l"), HLL.blob(HLL.encode(users), "u"))
    merged = (  # as the stores keep rows merged from several deltas
        QUANTILES.merge_blobs([raw[0], raw[0]]),
        HLL.merge_blobs([raw[1], HLL.blob(HLL.encode(HLL.new()), "u")]),
    )
    fractions = [0.5, 0.95, 0.99]
    for lat, usr in (raw, merged):
        assert lat is not None and usr is not None
        assert quantiles([lat], fractions) == quantiles([lat, None], fractions)
        assert hll_estimate([usr]) == hll_estimate([usr, None])
    assert quantiles([raw[0]], fractions)[0] == pytest.approx(
        QUANTILES.deserialize(raw[0]).get_quantile(0.5)
    )
