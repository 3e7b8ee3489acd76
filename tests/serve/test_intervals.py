"""Time handling of the query API: parsing, formatting, buckets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from squall.serve.exceptions import BadInterval
from squall.serve.intervals import (
    bucket_count,
    bucket_starts,
    format_time,
    parse_interval,
    parse_time,
)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2015-05-17T10:05:00Z", datetime(2015, 5, 17, 10, 5)),
        ("2015-05-17T10:05:00.250Z", datetime(2015, 5, 17, 10, 5, 0, 250_000)),
        ("2015-05-17T12:05:00+02:00", datetime(2015, 5, 17, 10, 5)),
        ("2015-05-17T10:05:00", datetime(2015, 5, 17, 10, 5)),  # no zone: UTC
        ("2015-05-17", datetime(2015, 5, 17)),
        (" 2015-05-17T10:05Z ", datetime(2015, 5, 17, 10, 5)),
    ],
)
def test_parse_time(text: str, want: datetime) -> None:
    assert parse_time(text) == want


def test_format_time() -> None:
    assert format_time(datetime(2015, 5, 17, 10, 5)) == "2015-05-17T10:05:00Z"
    assert format_time(datetime(2015, 5, 17, 10, 5, 1, 500_000)) == "2015-05-17T10:05:01.500Z"


@pytest.mark.parametrize("text", ["2015-05-17", "a/b", "2015-05-18/2015-05-17", "/", 5])
def test_bad_intervals(text: object) -> None:
    with pytest.raises(BadInterval):
        parse_interval(text)


def test_buckets_align_to_utc_boundaries() -> None:
    start, end = datetime(2015, 5, 17, 22, 30, 30), datetime(2015, 5, 18, 1, 0)
    assert list(bucket_starts(start, end, "hour")) == [
        datetime(2015, 5, 17, 22),
        datetime(2015, 5, 17, 23),
        datetime(2015, 5, 18, 0),
    ]
    assert list(bucket_starts(start, end, "day")) == [datetime(2015, 5, 17), datetime(2015, 5, 18)]
    assert list(bucket_starts(start, end, "all")) == [start]
    assert bucket_count(start, end, "minute") == 150  # 22:30 .. 00:59


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1)),
    length=st.timedeltas(timedelta(seconds=1), timedelta(days=20)),
    granularity=st.sampled_from(["minute", "hour", "day", "all"]),
)
def test_bucket_count_matches_buckets(start: datetime, length: timedelta, granularity: str) -> None:
    buckets = list(bucket_starts(start, start + length, granularity))  # type: ignore[arg-type]
    assert bucket_count(start, start + length, granularity) == len(buckets)  # type: ignore[arg-type]
    assert buckets[0] <= start < start + length
    assert all(b < start + length for b in buckets)
