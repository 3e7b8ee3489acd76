"""Aggregate rows (``logs.metrics``): the in-memory form, the JSON wire form, merging.

A row is a dict with the columns of squall/schema.py: ``time`` (ISO-8601 UTC minute),
the ``DIMENSIONS`` (strings) and the ``METRICS``. In memory, sketch columns hold
DataSketches objects (or ``None``); on the wire they hold base64 text (or ``null``),
see ``sketches``. Rows are deltas: rows with the same key (time and dimensions) combine
by each metric's ``kind``: ``sum`` adds, ``min``/``max`` keep the extreme (``null``
means no value), sketches union. ``merge_rows`` does that; the stores and tests use it
as the reference for what the store must answer.

Every loop over columns here iterates ``METRICS``: a column added in squall/schema.py
is encoded, decoded and merged without touching this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from squall.compute.topologies.exceptions import RowFormatError
from squall.compute.topologies.log_metrics.sketches import SKETCH_CODECS
from squall.schema import DIMENSIONS, METRICS, TIME_COLUMN

__all__ = ["COLUMNS", "KEY_COLUMNS", "Row", "decode_row", "encode_row", "merge_rows", "row_key"]

Row = dict[str, Any]
"""One aggregate row: column name -> value (sketch objects in memory)."""

KEY_COLUMNS: tuple[str, ...] = (TIME_COLUMN, *DIMENSIONS)
"""The columns that identify a row; rows with equal keys are merged."""

COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *(m.name for m in METRICS))
"""Every column, in wire order."""

_SKETCHES = tuple((m.name, SKETCH_CODECS[m.kind]) for m in METRICS if m.kind in SKETCH_CODECS)
_NUMBERS = tuple((m.name, m.kind) for m in METRICS if m.kind not in SKETCH_CODECS)


def row_key(row: Row) -> tuple[str, ...]:
    """``(time, *DIMENSIONS)`` of a row."""
    return tuple([row[c] for c in KEY_COLUMNS])


def encode_row(row: Row) -> bytes:
    """In-memory row -> the JSON bytes of a ``logs.metrics`` record."""
    wire = dict(row)
    for name, codec in _SKETCHES:
        wire[name] = codec.encode(row[name])
    return orjson.dumps(wire)


def decode_row(data: bytes | str) -> Row:
    """``logs.metrics`` record -> in-memory row; ``RowFormatError`` if it is not one."""
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
    row: Row = {c: wire[c] for c in COLUMNS}
    for column in KEY_COLUMNS:
        if type(row[column]) is not str:
            raise RowFormatError(f"aggregate row column {column!r} must be a string")
    for name, kind in _NUMBERS:
        value = row[name]
        if not (type(value) in (int, float) or (value is None and kind != "sum")):
            raise RowFormatError(f"aggregate row column {name!r} must be a number")
    for name, codec in _SKETCHES:
        value = row[name]
        if value is not None and type(value) is not str:
            raise RowFormatError(f"aggregate row column {name!r} must be base64 text or null")
        row[name] = codec.decode(value)
    return row


def merge_rows(rows: Iterable[Row]) -> list[Row]:
    """Combine rows with equal keys, in first-seen key order.

    Inputs are not modified; an unmerged row's sketch objects are shared with the input.
    """
    merged: dict[tuple[str, ...], Row] = {}
    sketches: dict[tuple[str, ...], list[list[Any]]] = {}
    for row in rows:
        key = row_key(row)
        into = merged.get(key)
        if into is None:
            merged[key] = {c: row[c] for c in COLUMNS}
            sketches[key] = [[row[name]] for name, _ in _SKETCHES]
            continue
        for name, kind in _NUMBERS:
            value, old = row[name], into[name]
            if kind == "sum":
                into[name] = old + value
            elif value is None or old is None:
                into[name] = old if value is None else value
            elif kind == "min":
                into[name] = value if value < old else old
            else:
                into[name] = value if value > old else old
        for pending, (name, _) in zip(sketches[key], _SKETCHES, strict=True):
            pending.append(row[name])
    for key, row in merged.items():
        for pending, (name, codec) in zip(sketches[key], _SKETCHES, strict=True):
            row[name] = pending[0] if len(pending) == 1 else codec.union(pending)
    return list(merged.values())
