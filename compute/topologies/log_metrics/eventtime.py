"""Event times: the three ways they arrive, turned into epoch milliseconds (UTC).

* epoch numbers (JSON ``ts``, the Flume ``timestamp`` header): the unit is told by
  magnitude, since no real event is near 1970 in a larger unit or past year 5000 in a
  smaller one: ``|x| < 1e11`` seconds, ``< 1e14`` milliseconds, ``< 1e17``
  microseconds, else nanoseconds;
* ISO-8601 strings (JSON ``ts``): anything ``datetime.fromisoformat`` reads, with
  ``Z`` or an offset; a time without an offset is UTC;
* Apache/Nginx ``[17/May/2015:10:05:03 +0000]`` (the text inside the brackets).

Every function returns ``None`` for a value it cannot read or that lies outside
1970-01-01 .. 9999-12-31, so the parser can dead-letter it with a reason. Results are
memoised per minute where inputs repeat (log lines arrive in time order, many per
minute), keeping the per-event cost to a dictionary lookup.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["MAX_MS", "clf_to_ms", "epoch_to_ms", "iso_to_ms", "minute_iso"]

MAX_MS = 253_402_300_800_000
"""Epoch milliseconds of 10000-01-01T00:00:00Z: the first time that cannot be a row time."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MAX_DAYS = MAX_MS // 86_400_000  # MAX_MS is a whole day: 10000-01-01
_ONE_MS = timedelta(milliseconds=1)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_CACHE_LIMIT = 4096
_clf_minutes: dict[str, int | None] = {}
_minute_isos: dict[int, str] = {}


def epoch_to_ms(value: float) -> int | None:
    """Epoch seconds, ms, µs or ns (told apart by magnitude) -> epoch ms, floored."""
    magnitude = abs(value)
    if not magnitude < 1e20:  # past year 5138 in any unit, or inf/nan
        return None
    if magnitude < 1e11:
        ms = value * 1000
    elif magnitude < 1e14:
        ms = value
    elif magnitude < 1e17:
        ms = value / 1000 if isinstance(value, float) else value // 1000
    else:
        ms = value / 1_000_000 if isinstance(value, float) else value // 1_000_000
    result = int(ms // 1)
    return result if 0 <= result < MAX_MS else None


def iso_to_ms(text: str) -> int | None:
    """ISO-8601 date-time (offset or ``Z``; none means UTC) -> epoch ms, floored."""
    try:
        moment = datetime.fromisoformat(text)  # C: ~70 ns; the checks are its own
    except ValueError:
        return None
    try:  # a naive time is UTC: naive minus naive epoch is the same timedelta
        delta = moment - (_EPOCH if moment.tzinfo is not None else _NAIVE_EPOCH)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00
        return None
    days = delta.days
    if not 0 <= days < _MAX_DAYS:
        return None
    # Not ``delta // _ONE_MS``: it takes a bigint trip through total µs, 2/3 of the cost.
    return days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def clf_to_ms(text: str) -> int | None:
    """``17/May/2015:10:05:03 +0000`` -> epoch ms. The shape is checked by the caller's regex."""
    key = text[:17] + text[20:]  # all but the seconds: one cache entry per minute and zone
    minute = _clf_minutes.get(key, -1)
    if minute == -1:
        minute = _clf_minute(text)
        if len(_clf_minutes) >= _CACHE_LIMIT:
            _clf_minutes.clear()
        _clf_minutes[key] = minute
    if minute is None:
        return None
    seconds = int(text[18:20])
    if seconds > 60:  # 60: a leap second, as strftime allows
        return None
    return minute + seconds * 1000


def _clf_minute(text: str) -> int | None:
    month = _MONTHS.get(text[3:6])
    if month is None:
        return None
    sign = -1 if text[21] == "-" else 1
    hours, minutes = int(text[22:24]), int(text[24:26])
    if minutes >= 60:  # +0199 is no offset
        return None
    try:
        moment = datetime(
            int(text[7:11]), month, int(text[0:2]), int(text[12:14]), int(text[15:17]), tzinfo=UTC
        )
    except ValueError:  # 31/Feb, hour 25, year 0, ...
        return None
    # the offset is applied to the count, not the datetime: 01/Jan/0001 +0100 would be
    # year 0 as a datetime (OverflowError); as a count it is just out of range
    result = (moment - _EPOCH) // _ONE_MS - sign * (hours * 3_600_000 + minutes * 60_000)
    return result if 0 <= result < MAX_MS - 60_000 else None


def minute_iso(minute_ms: int) -> str:
    """Epoch ms of a minute start -> ``2015-05-17T10:05:00Z`` (the row ``time``)."""
    text = _minute_isos.get(minute_ms)
    if text is None:
        text = (_EPOCH + minute_ms * _ONE_MS).strftime("%Y-%m-%dT%H:%M:%SZ")
        if len(_minute_isos) >= _CACHE_LIMIT:
            _minute_isos.clear()
        _minute_isos[minute_ms] = text
    return text
