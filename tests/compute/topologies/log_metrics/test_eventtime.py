"""Event time conversions; ground truth from datetime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from squall.compute.topologies.log_metrics.eventtime import (
    clf_to_ms,
    epoch_to_ms,
    iso_to_ms,
    minute_iso,
)

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


_EPOCH_DAY = date(1970, 1, 1).toordinal()
_LAST_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z, written out: not eventtime.MAX_MS


def reference_ms(text: str) -> int | None:
    """fromisoformat's fields, then integer arithmetic: no timedelta division, no floats."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    offset = moment.utcoffset() or timedelta(0)
    offset_us = (offset.days * 86_400 + offset.seconds) * 10**6 + offset.microseconds
    local_s = (moment.toordinal() - _EPOCH_DAY) * 86_400 + moment.hour * 3600
    local_s += moment.minute * 60 + moment.second
    ms = (local_s * 10**6 + moment.microsecond - offset_us) // 1000  # floored
    return ms if 0 <= ms < _LAST_MS else None


def _digits(low: int, high: int, width: int) -> st.SearchStrategy[str]:
    """Numbers around a field's valid range, zero-padded, now and then one digit short."""
    number = st.integers(low, high)
    return st.one_of(number.map(lambda n: str(n).zfill(width)), number.map(str))


_YEARS = st.one_of(
    st.sampled_from([0, 1, 1969, 1970, 1971, 2000, 2024, 2026, 2100, 9998, 9999]),
    st.integers(0, 9999),
).map(lambda n: str(n).zfill(4))
_FRACTIONS = st.one_of(
    st.just(""),
    st.text("0123456789", min_size=0, max_size=11).map(lambda d: "." + d),
    st.sampled_from([".999", ".9999999", ".999999999", ",5", ".5٣"]),
)
_ZONES = st.one_of(
    st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+01:00", "-01:00", " Z", "+0100"]),
    st.tuples(st.sampled_from("+-"), _digits(0, 25, 2), _digits(0, 61, 2)).map(
        lambda t: f"{t[0]}{t[1]}:{t[2]}"
    ),
)
_ISO_TEXTS = st.builds(
    lambda y, mo, d, sep, h, mi, sec, frac, zone: f"{y}-{mo}-{d}{sep}{h}:{mi}:{sec}{frac}{zone}",
    _YEARS,
    _digits(0, 13, 2),
    _digits(0, 32, 2),
    st.sampled_from(["T", "T", "T", "t", " "]),
    _digits(0, 25, 2),
    _digits(0, 61, 2),
    _digits(0, 61, 2),
    _FRACTIONS,
    _ZONES,
)


@st.composite
def _mutated_texts(draw: st.DrawFn) -> str:
    """A shaped text with one character inserted, replaced or cut: near misses."""
    text = draw(_ISO_TEXTS)
    at = draw(st.integers(0, len(text)))
    insert = draw(st.sampled_from(["", "0", "9", ":", "-", ".", "Z", "T", " ", "\n", "٣"]))
    cut = draw(st.integers(0, 2))
    return text[:at] + insert + text[at + cut :]


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_ISO_TEXTS, _mutated_texts()))
@example("2026-11-25T15:10:29.751+00:00")
@example("2026-11-25T15:10:29Z")
@example("2026-11-25T15:10:29.751123Z")
def test_iso_matches_reference(text: str) -> None:
    assert iso_to_ms(text) == reference_ms(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T15:10:29.751+00:00", 1795619429751),  # date -u -d ... +%s
        ("2026-11-25T15:10:29.751999999Z", 1795619429751),  # beyond ms: floored
        ("2026-11-25T15:10:29.9999999Z", 1795619429999),  # beyond µs: truncated, no carry
        ("2026-11-25T15:10:29.7Z", 1795619429700),
        ("2026-11-25t15:10:29Z", 1795619429000),  # fromisoformat takes a lower-case t
        ("2026-11-25T15:10:29z", None),  # ... but not a lower-case z
        ("2024-02-29T00:00:00Z", 1709164800000),
        ("2026-02-29T00:00:00Z", None),
        ("2026-02-30T00:00:00Z", None),
        ("2026-11-25T24:00:00Z", None),
        ("2026-11-25T23:60:00Z", None),
        ("2026-11-25T23:59:60Z", None),  # no leap second in fromisoformat
        ("2026-11-25T15:10:29+24:00", None),
        ("2026-11-25T15:10:29+23:59", 1795533089000),
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1970-01-01T00:59:59.999+01:00", None),
        ("1969-12-31T23:00:00-01:00", 0),
        ("1969-12-31T23:59:59.999999", None),
        ("9999-12-31T23:59:59.999Z", _LAST_MS - 1),
        ("9999-12-31T23:59:59.999-00:01", None),
        ("9999-12-31T23:59:00+00:01", _LAST_MS - 120_000),
        ("0001-01-01T00:00:00-01:00", None),
        ("0000-01-01T00:00:00Z", None),
        ("2026-11-25T15:10:2٣Z", None),  # a non-ASCII digit
        ("2026-11-25T15:10:29Z\n", None),
        ("", None),
    ],
)
def test_iso_edges(text: str, expected: int | None) -> None:
    assert iso_to_ms(text) == expected
    assert reference_ms(text) == expected  # the property test's reference agrees


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
