"""Roll-up on write: combine delta rows that share a (minute, dimensions) key.

This is what Druid's ingestion-time rollup does, done in Python for the embedded store:
a batch of rows is decoded into accumulators keyed by ``(time, *dimensions)``; an
accumulator holds, per ``squall.schema`` metric, the running sum / min / max, or the list
of sketch binaries still to merge. Sketches are merged once, in ``finish``, so a key that
receives many deltas costs one union per binary, not one re-serialization per delta.

Times are floored to the minute (the rows' granularity), as Druid's queryGranularity does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from squall.schema import DIMENSIONS, METRICS, TIME_COLUMN
from squall.serve.exceptions import InvalidRow
from squall.serve.intervals import parse_time
from squall.serve.sketches import decode_sketch, merge_hll, merge_quantiles

__all__ = ["Accumulator", "Key", "add_stored", "decode_rows", "finish", "project"]

Key = tuple[Any, ...]
"""``(time, *dimension values)``; time is a naive UTC ``datetime``."""
Accumulator = list[Any]
"""Per metric, in ``METRICS`` order: float, float | None, or list[bytes] for sketches."""

_NAMES = tuple(m.name for m in METRICS)
_KINDS = tuple(m.kind for m in METRICS)
_SUMS = tuple(i for i, m in enumerate(METRICS) if m.kind == "sum")
_MINS = tuple(i for i, m in enumerate(METRICS) if m.kind == "min")
_MAXS = tuple(i for i, m in enumerate(METRICS) if m.kind == "max")
_SKETCHES = tuple(i for i, m in enumerate(METRICS) if m.kind in ("quantiles", "hll"))
_MERGE = {"quantiles": merge_quantiles, "hll": merge_hll}
_MERGERS = tuple((i, _MERGE[METRICS[i].kind]) for i in _SKETCHES)


def _new() -> Accumulator:
    acc: Accumulator = [None] * len(METRICS)
    for i in _SUMS:
        acc[i] = 0.0
    for i in _SKETCHES:
        acc[i] = []
    return acc


def _number(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRow(f"metric {name!r} must be a number or null, not {value!r}")
    return float(value)


def _merge_into(acc: Accumulator, values: Sequence[Any]) -> None:
    """Combine decoded/stored values (sketches as bytes or None) into ``acc``. Hot."""
    for i in _SUMS:
        v = values[i]
        if v is not None:
            acc[i] += v
    for i in _MINS:
        v = values[i]
        if v is not None and (acc[i] is None or v < acc[i]):
            acc[i] = v
    for i in _MAXS:
        v = values[i]
        if v is not None and (acc[i] is None or v > acc[i]):
            acc[i] = v
    for i in _SKETCHES:
        v = values[i]
        if v is not None:
            acc[i].append(v)


def decode_rows(rows: Iterable[Mapping[str, Any]]) -> dict[Key, Accumulator]:
    """Decoded JSON rows -> accumulators by full key. Raises InvalidRow naming the field."""
    out: dict[Key, Accumulator] = {}
    minutes: dict[str, datetime] = {}
    for row in rows:  # hot
        if not isinstance(row, Mapping):
            raise InvalidRow(f"an aggregate row must be a JSON object, not {type(row).__name__}")
        raw_time = row.get(TIME_COLUMN)
        minute = minutes.get(raw_time) if isinstance(raw_time, str) else None
        if minute is None:
            minute = _minute(raw_time)
            minutes[raw_time] = minute  # type: ignore[index]
        dims = []
        for d in DIMENSIONS:
            v = row.get(d)
            if v is None or isinstance(v, bool) or not isinstance(v, str | int):
                raise InvalidRow(f"dimension {d!r} must be a string, not {v!r}")
            dims.append(v if isinstance(v, str) else str(v))
        key = (minute, *dims)
        values: list[Any] = [None] * len(METRICS)
        for i in _SUMS:
            values[i] = _number(row, _NAMES[i])
        for i in _MINS:
            values[i] = _number(row, _NAMES[i])
        for i in _MAXS:
            values[i] = _number(row, _NAMES[i])
        for i in _SKETCHES:
            values[i] = decode_sketch(row.get(_NAMES[i]), _NAMES[i], _KINDS[i])
        acc = out.get(key)
        if acc is None:
            acc = out[key] = _new()
        _merge_into(acc, values)
    return out


def _minute(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise InvalidRow(f"{TIME_COLUMN!r} must be an ISO-8601 string, not {raw!r}")
    try:
        return parse_time(raw).replace(second=0, microsecond=0)
    except ValueError as exc:
        raise InvalidRow(f"{TIME_COLUMN!r} {raw!r} is not ISO-8601: {exc}") from exc


def project(accs: Mapping[Key, Accumulator], dims: Sequence[str]) -> dict[Key, Accumulator]:
    """Re-key full-key accumulators onto ``(time, *dims)``, combining those that collide.

    For all dimensions the result shares the accumulators of ``accs``; otherwise it holds
    new ones. Project before folding stored rows into any of them."""
    if tuple(dims) == DIMENSIONS:
        return dict(accs)
    positions = [1 + DIMENSIONS.index(d) for d in dims]
    out: dict[Key, Accumulator] = {}
    for key, acc in accs.items():
        pkey = (key[0], *(key[p] for p in positions))
        target = out.get(pkey)
        if target is None:
            target = out[pkey] = _new()
        for i in _SUMS:
            target[i] += acc[i]
        for i in _MINS:
            v = acc[i]
            if v is not None and (target[i] is None or v < target[i]):
                target[i] = v
        for i in _MAXS:
            v = acc[i]
            if v is not None and (target[i] is None or v > target[i]):
                target[i] = v
        for i in _SKETCHES:
            target[i].extend(acc[i])
    return out


def add_stored(acc: Accumulator, stored: Sequence[Any]) -> None:
    """Fold a stored row's metric values (``METRICS`` order, sketches as bytes) into ``acc``."""
    _merge_into(acc, stored)


def finish(acc: Accumulator) -> list[Any]:
    """Accumulator -> the values to store: sketches merged into one binary (or None)."""
    out = list(acc)
    for i, merge in _MERGERS:
        blobs = acc[i]
        out[i] = None if not blobs else blobs[0] if len(blobs) == 1 else merge(blobs)
    return out
