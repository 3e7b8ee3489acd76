"""Aggregate rows (``logs.metrics``): wire codec, checks and merging, for every stage.

A row has the columns of squall.schema: ``time`` (ISO-8601 UTC minute), the
``DIMENSIONS`` (strings) and the ``METRICS``. Rows are *deltas*: rows with the same key
(time and dimensions) combine by each metric's ``kind``: ``sum`` adds, ``min``/``max``
keep the extreme (``null`` means no value), sketches union. One definition of that serves
everyone:

* the compute tier encodes the rows it emits (``encode_row``);
* the embedded store rolls up what the loader reads (``roll_up``, ``project``,
  ``add_stored``, ``finish``), keeping sketches as bytes, as Druid's rollup does;
* tests check stores against ``merge_rows`` over rows with sketch objects.

Every loop over columns iterates ``METRICS``: a metric added in squall/schema.py is
checked, encoded, decoded and merged here without touching this module. A record that is
not a row raises ``RowFormatError`` naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from squall.exceptions import RowFormatError
from squall.schema import DIMENSIONS, METRICS, TIME_COLUMN
from squall.sketches import SKETCH_KINDS

__all__ = [
    "COLUMNS",
    "KEY_COLUMNS",
    "Accumulator",
    "Key",
    "Row",
    "WireRow",
    "add_stored",
    "decode_row",
    "encode_row",
    "finish",
    "merge_rows",
    "project",
    "roll_up",
    "roll_up_stored",
    "row_key",
]

Row = dict[str, Any]
"""An aggregate row in memory: column name -> value, sketch columns as sketch objects."""
WireRow = Mapping[str, Any]
"""An aggregate row as decoded from a ``logs.metrics`` JSON record: sketches as base64."""
Key = tuple[Any, ...]
"""A roll-up key: ``(time, *dimension values)``, time a naive UTC ``datetime`` minute."""
Accumulator = list[Any]
"""Per metric, in ``METRICS`` order: the running sum/min/max, or a list of sketches."""

KEY_COLUMNS: tuple[str, ...] = (TIME_COLUMN, *DIMENSIONS)
"""The columns that identify a row; rows with equal keys are merged."""
COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *(m.name for m in METRICS))
"""Every column, in wire order."""

_NAMES = tuple(m.name for m in METRICS)
_SUMS = tuple(i for i, m in enumerate(METRICS) if m.kind == "sum")
_MINS = tuple(i for i, m in enumerate(METRICS) if m.kind == "min")
_MAXS = tuple(i for i, m in enumerate(METRICS) if m.kind == "max")
_SKETCHES = tuple(
    (i, SKETCH_KINDS[m.kind]) for i, m in enumerate(METRICS) if m.kind in SKETCH_KINDS
)
_SKETCH_AT = tuple(i for i, _ in _SKETCHES)


def row_key(row: Row) -> tuple[str, ...]:
    """``(time, *DIMENSIONS)`` of a row."""
    return tuple([row[c] for c in KEY_COLUMNS])


# -- the wire form ----------------------------------------------------------------------


def encode_row(row: Row) -> bytes:
    """In-memory row -> the JSON bytes of a ``logs.metrics`` record."""
    wire = dict(row)
    for i, kind in _SKETCHES:
        name = _NAMES[i]
        wire[name] = kind.encode(row[name])
    return orjson.dumps(wire)


def decode_row(data: bytes | str) -> Row:
    """A ``logs.metrics`` record -> in-memory row (sketch objects). ``RowFormatError`` if
    it is not one: every column must be there, checked as ``roll_up`` checks it."""
    try:
        wire = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RowFormatError(f"a logs.metrics record is not JSON: {exc}") from exc
    if type(wire) is not dict:
        raise RowFormatError("a logs.metrics record must be a JSON object (an aggregate row)")
    missing = [c for c in COLUMNS if c not in wire]
    if missing:
        raise RowFormatError(
            f"a logs.metrics record lacks the columns {missing}; expected {list(COLUMNS)}"
        )
    _minute(wire[TIME_COLUMN])
    row: Row = {TIME_COLUMN: wire[TIME_COLUMN]}
    row.update(zip(DIMENSIONS, _dimensions(wire), strict=True))
    values = _metrics(wire)
    for i, kind in _SKETCHES:
        blob = values[i]
        values[i] = None if blob is None else kind.deserialize(blob)
    row.update(zip(_NAMES, values, strict=True))
    return row


def _dimensions(row: WireRow) -> list[str]:
    dims = []
    for d in DIMENSIONS:
        v = row.get(d)
        if v is None or isinstance(v, bool) or not isinstance(v, str | int):
            raise RowFormatError(f"dimension {d!r} must be a string, not {v!r}")
        dims.append(v if isinstance(v, str) else str(v))
    return dims


def _metrics(row: WireRow) -> list[Any]:
    """The metric values in ``METRICS`` order; sketches as checked bytes. Hot."""
    values: list[Any] = [None] * len(_NAMES)
    for i, name in enumerate(_NAMES):
        if i in _SKETCH_AT:
            continue
        v = row.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise RowFormatError(f"metric {name!r} must be a number or null, not {v!r}")
        values[i] = v
    for i, kind in _SKETCHES:
        values[i] = kind.blob(row.get(_NAMES[i]), _NAMES[i])
    return values


def _minute(raw: object) -> datetime:
    """An ISO-8601 time -> its minute, naive UTC (no zone means UTC)."""
    if not isinstance(raw, str):
        raise RowFormatError(f"{TIME_COLUMN!r} must be an ISO-8601 string, not {raw!r}")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise RowFormatError(f"{TIME_COLUMN!r} {raw!r} is not ISO-8601: {exc}") from exc
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(second=0, microsecond=0)


# -- combining ----------------------------------------------------------------------------


def _new() -> Accumulator:
    acc: Accumulator = [None] * len(_NAMES)
    for i in _SUMS:
        acc[i] = 0
    for i in _SKETCH_AT:
        acc[i] = []
    return acc


def _combine(acc: Accumulator, values: Sequence[Any], sketch_lists: bool) -> None:
    """Fold one row's metric values into ``acc`` by kind; the one merge rule. Hot.

    ``values`` holds single sketches (or ``None``), or, with ``sketch_lists``, lists of
    them (another accumulator)."""
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
    for i in _SKETCH_AT:
        v = values[i]
        if sketch_lists:
            acc[i].extend(v)
        elif v is not None:
            acc[i].append(v)


def merge_rows(rows: Iterable[Row]) -> list[Row]:
    """Combine in-memory rows with equal keys, in first-seen key order: what a store must
    answer for them. Inputs are not modified; a sketch seen once is shared, not copied."""
    accs: dict[tuple[str, ...], Accumulator] = {}
    for row in rows:
        key = row_key(row)
        acc = accs.get(key)
        if acc is None:
            acc = accs[key] = _new()
        _combine(acc, [row[name] for name in _NAMES], sketch_lists=False)
    merged = []
    for key, acc in accs.items():
        row = dict(zip(KEY_COLUMNS, key, strict=True))
        for i, kind in _SKETCHES:
            sketches = acc[i]
            acc[i] = sketches[0] if len(sketches) == 1 else kind.union(sketches)
        row.update(zip(_NAMES, acc, strict=True))
        merged.append(row)
    return merged


# -- roll-up on write (the embedded store; Druid does the same at ingestion) -------------


def roll_up(rows: Iterable[WireRow]) -> dict[Key, Accumulator]:
    """Decoded JSON rows -> accumulators by full key, times floored to the minute as
    Druid's queryGranularity does. Raises ``RowFormatError`` naming the field, before
    anything is combined, so a batch is taken whole or not at all."""
    out: dict[Key, Accumulator] = {}
    minutes: dict[str, datetime] = {}
    for row in rows:  # hot
        if not isinstance(row, Mapping):
            raise RowFormatError(
                f"an aggregate row must be a JSON object, not {type(row).__name__}"
            )
        raw_time = row.get(TIME_COLUMN)
        minute = minutes.get(raw_time) if isinstance(raw_time, str) else None
        if minute is None:
            minute = minutes[raw_time] = _minute(raw_time)  # type: ignore[index]
        key = (minute, *_dimensions(row))
        acc = out.get(key)
        if acc is None:
            acc = out[key] = _new()
        _combine(acc, _metrics(row), sketch_lists=False)
    return out


def project(
    accs: Mapping[Key, Accumulator], dims: Sequence[str], minutes: int = 1
) -> dict[Key, Accumulator]:
    """Re-key full-key accumulators onto ``(time, *dims)``, combining those that collide;
    with ``minutes`` > 1, times are floored to that many minutes (a divisor of 60).

    For all dimensions by the minute the result shares the accumulators of ``accs``;
    otherwise it holds new ones. Project before folding stored rows into any of them."""
    if tuple(dims) == DIMENSIONS and minutes == 1:
        return dict(accs)
    positions = [1 + DIMENSIONS.index(d) for d in dims]
    out: dict[Key, Accumulator] = {}
    for key, acc in accs.items():
        at = key[0]
        if minutes > 1:
            at = at.replace(minute=at.minute - at.minute % minutes)
        pkey = (at, *(key[p] for p in positions))
        target = out.get(pkey)
        if target is None:
            target = out[pkey] = _new()
        _combine(target, acc, sketch_lists=True)
    return out


def add_stored(acc: Accumulator, stored: Sequence[Any]) -> None:
    """Fold a stored row's metric values (``METRICS`` order, sketches as bytes) into ``acc``."""
    _combine(acc, stored, sketch_lists=False)


def roll_up_stored(
    stored: Iterable[Sequence[Any]], nkey: int, minutes: int
) -> dict[Key, Accumulator]:
    """Stored rows (``nkey`` key columns, time first, then the metrics in ``METRICS`` order,
    sketches as bytes) -> accumulators by key, times floored to ``minutes``: a coarser
    roll-up built from a finer one."""
    out: dict[Key, Accumulator] = {}
    for row in stored:  # hot
        at = row[0]
        key = (at.replace(minute=at.minute - at.minute % minutes), *row[1:nkey])
        acc = out.get(key)
        if acc is None:
            acc = out[key] = _new()
        _combine(acc, row[nkey:], sketch_lists=False)
    return out


def finish(acc: Accumulator) -> list[Any]:
    """Accumulator -> the values to store: each sketch list merged into one binary."""
    out = list(acc)
    for i, kind in _SKETCHES:
        blobs = acc[i]
        out[i] = None if not blobs else blobs[0] if len(blobs) == 1 else kind.merge_blobs(blobs)
    return out
