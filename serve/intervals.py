"""Time in the query API: ISO-8601 parsing, UTC formatting and granularity buckets.

Everything inside serve/ handles time as *naive UTC* ``datetime`` values, so that no
store or process time zone can shift a bucket. Intervals are half-open, ``[start, end)``,
as in Druid; buckets are aligned to UTC minute, five- and fifteen-minute, hour and day
boundaries (``five_minute`` and ``fifteen_minute`` are Druid's names for those buckets).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

from squall.serve.exceptions import BadInterval

__all__ = [
    "GRANULARITIES",
    "Granularity",
    "bucket_count",
    "bucket_starts",
    "floor_time",
    "format_time",
    "parse_interval",
    "parse_time",
]

Granularity = Literal["minute", "five_minute", "fifteen_minute", "hour", "day", "all"]
GRANULARITIES: tuple[Granularity, ...] = (
    "minute",
    "five_minute",
    "fifteen_minute",
    "hour",
    "day",
    "all",
)
_STEP = {
    "minute": timedelta(minutes=1),
    "five_minute": timedelta(minutes=5),
    "fifteen_minute": timedelta(minutes=15),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def parse_time(text: str) -> datetime:
    """``2015-05-17T10:05:00Z``, ``...+02:00``, ``2015-05-17`` -> naive UTC; no zone means UTC."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is in year 0 in UTC
            raise ValueError(
                f"{text.strip()!r} is outside the years 1..9999 once moved to UTC"
            ) from None
    return value


def format_time(value: datetime) -> str:
    """Naive UTC -> ``2015-05-17T10:05:00Z`` (the form of the aggregate row's ``time``)."""
    if value.microsecond:
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.isoformat(timespec="seconds") + "Z"


def parse_interval(text: object) -> tuple[datetime, datetime]:
    """``"start/end"`` (ISO-8601, end exclusive) -> (start, end) in naive UTC."""
    example = '"2015-05-17T00:00:00Z/2015-05-21T00:00:00Z"'
    if not isinstance(text, str) or text.count("/") != 1:
        raise BadInterval(
            f"interval {text!r} is not valid: give one string 'start/end' in ISO-8601, "
            f"e.g. {example}"
        )
    start_text, end_text = text.split("/")
    try:
        start, end = parse_time(start_text), parse_time(end_text)
    except ValueError as exc:
        raise BadInterval(
            f"interval {text!r} is not valid ({exc}): both ends must be ISO-8601 "
            f"date-times, e.g. {example}"
        ) from exc
    if start >= end:
        raise BadInterval(f"interval {text!r} is empty: its start must be before its end")
    return start, end


def floor_time(value: datetime, granularity: Granularity) -> datetime:
    """The start of the bucket holding ``value`` (``all`` has no floor: returns ``value``)."""
    if granularity == "minute":
        return value.replace(second=0, microsecond=0)
    if granularity == "five_minute":
        return value.replace(minute=value.minute - value.minute % 5, second=0, microsecond=0)
    if granularity == "fifteen_minute":
        return value.replace(minute=value.minute - value.minute % 15, second=0, microsecond=0)
    if granularity == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    if granularity == "day":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    return value


def bucket_count(start: datetime, end: datetime, granularity: Granularity) -> int:
    """How many buckets ``[start, end)`` spans (1 for ``all``)."""
    if granularity == "all":
        return 1
    first = floor_time(start, granularity)
    return -(-(end - first) // _STEP[granularity])


def bucket_starts(start: datetime, end: datetime, granularity: Granularity) -> Iterator[datetime]:
    """Every bucket start of ``[start, end)``; ``all`` yields ``start`` once (its timestamp)."""
    if granularity == "all":
        yield start
        return
    step = _STEP[granularity]
    current = floor_time(start, granularity)
    while current < end:
        yield current
        if current > datetime.max - step:  # the last bucket of year 9999
            return
        current += step
