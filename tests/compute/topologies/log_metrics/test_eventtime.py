"""Event time conversions; ground truth from datetime."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from compute.topologies.log_metrics.eventtime import clf_to_ms, epoch_to_ms, iso_to_ms, minute_iso

T = datetime(2015, 5, 17, 10, 5, 3, 250000, tzinfo=UTC)
MS = 1431857103250


def test_reference_instant() -> None:
    assert int(T.timestamp() * 1000) == MS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1431857103, MS - 250),  # seconds
        (1431857103.25, MS),  # fractional seconds
        (MS, MS),  # milliseconds
        (MS * 1000 + 999, MS),  # microseconds
        (MS * 1_000_000 + 999_999, MS),  # nanoseconds
        (0, 0),
        (-1, None),
        (float("inf"), None),
        (float("nan"), None),
        (1e25, None),
    ],
)
def test_epoch_units_by_magnitude(value: float, expected: int | None) -> None:
    assert epoch_to_ms(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-05-17T10:05:03.25Z", MS),
        ("2015-05-17T10:05:03.250+00:00", MS),
        ("2015-05-17T12:05:03.25+02:00", MS),
        ("2015-05-17T05:35:03.25-04:30", MS),
        ("2015-05-17T10:05:03.25", MS),  # no offset: UTC
        ("2015-05-17 10:05:03.25Z", MS),
        ("20150517T100503.25Z", MS),  # basic format
        ("2015-05-17", MS - (10 * 3600 + 5 * 60 + 3) * 1000 - 250),
        ("yesterday", None),
        ("1969-12-31T23:59:59Z", None),
        ("0001-01-01T00:00:00+01:00", None),
    ],
)
def test_iso(text: str, expected: int | None) -> None:
    assert iso_to_ms(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17/May/2015:10:05:03 +0000", MS - 250),
        ("17/May/2015:12:05:03 +0200", MS - 250),
        ("17/May/2015:05:35:03 -0430", MS - 250),
        ("31/Dec/1999:23:59:60 +0000", 946684800000),  # leap second
        ("31/Feb/2015:10:05:03 +0000", None),
        ("17/Mai/2015:10:05:03 +0000", None),
        ("17/May/2015:25:05:03 +0000", None),
        ("17/May/2015:10:05:61 +0000", None),
    ],
)
def test_clf(text: str, expected: int | None) -> None:
    assert clf_to_ms(text) == expected
    assert clf_to_ms(text) == expected  # cached the second time: same answer


def test_clf_cache_is_per_minute_not_per_second() -> None:
    first = clf_to_ms("01/Jan/2020:00:00:07 +0000")
    second = clf_to_ms("01/Jan/2020:00:00:42 +0000")
    assert first is not None and second is not None
    assert second - first == 35_000


def test_minute_iso() -> None:
    assert minute_iso(MS - MS % 60_000) == "2015-05-17T10:05:00Z"
    assert minute_iso(0) == "1970-01-01T00:00:00Z"
