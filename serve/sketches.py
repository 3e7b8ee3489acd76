"""DataSketches binaries of the aggregate row: decode, merge, read.

The sketches are the ones Druid's druid-datasketches extension merges
(``quantilesDoublesSketch`` with k = ``QUANTILES_K``, ``HLLSketch`` with
lg_k = ``HLL_LG_K`` and target type HLL_4), so merged results are re-serialized in the
same formats. A merge of ``None`` values (no sketch in any row) is ``None``.

Hot path of both writing (roll-up) and querying: each merge is one deserialize plus one
union update (about 2 µs per sketch), so callers pass whole lists at once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from datasketches import hll_sketch, hll_union, quantiles_doubles_sketch, tgt_hll_type

from squall.schema import HLL_LG_K, QUANTILES_K
from squall.serve.exceptions import InvalidRow

__all__ = [
    "decode_sketch",
    "hll_estimate",
    "merge_hll",
    "merge_quantiles",
    "quantile",
]


_DESERIALIZE = {"quantiles": quantiles_doubles_sketch.deserialize, "hll": hll_sketch.deserialize}


def decode_sketch(value: object, column: str, kind: str) -> bytes | None:
    """A row's sketch field (base64 text, raw bytes, or null) -> bytes or None.

    The bytes are checked to be a ``kind`` ("quantiles" or "hll") sketch now, so that a
    corrupt row is refused (InvalidRow) instead of failing every later merge or query."""
    if value is None or value == "":
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        blob = bytes(value)
    elif isinstance(value, str):
        try:
            blob = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise InvalidRow(f"{column} is not valid base64: {exc}") from exc
    else:
        raise InvalidRow(f"{column} must be a base64 string or null, not {type(value).__name__}")
    try:
        _DESERIALIZE[kind](blob)
    except (ValueError, IndexError, RuntimeError) as exc:
        raise InvalidRow(f"{column} is not a serialized DataSketches {kind} sketch: {exc}") from exc
    return blob


def _quantiles_union(blobs: Iterable[bytes | None]) -> quantiles_doubles_sketch | None:
    merged: quantiles_doubles_sketch | None = None
    deserialize = quantiles_doubles_sketch.deserialize
    for blob in blobs:  # hot
        if blob is None:
            continue
        if merged is None:
            merged = quantiles_doubles_sketch(QUANTILES_K)
        merged.merge(deserialize(blob))
    return merged


def _hll_union(blobs: Iterable[bytes | None]) -> hll_union | None:
    union: hll_union | None = None
    deserialize = hll_sketch.deserialize
    for blob in blobs:  # hot
        if blob is None:
            continue
        if union is None:
            union = hll_union(HLL_LG_K)
        union.update(deserialize(blob))
    return union


def merge_quantiles(blobs: Iterable[bytes | None]) -> bytes | None:
    """Serialized quantiles sketches -> one serialized merged sketch (None if none given)."""
    merged = _quantiles_union(blobs)
    return None if merged is None else bytes(merged.serialize())


def merge_hll(blobs: Iterable[bytes | None]) -> bytes | None:
    """Serialized HLL sketches -> one serialized (compact, HLL_4) union (None if none given)."""
    union = _hll_union(blobs)
    if union is None:
        return None
    return bytes(union.get_result(tgt_hll_type.HLL_4).serialize_compact())


def quantile(blobs: Iterable[bytes | None], fractions: Iterable[float]) -> list[float | None]:
    """The quantiles at ``fractions`` of the merged sketches; None where nothing was seen."""
    merged = _quantiles_union(blobs)
    if merged is None or merged.is_empty():
        return [None for _ in fractions]
    return [float(merged.get_quantile(f)) for f in fractions]


def hll_estimate(blobs: Iterable[bytes | None]) -> float:
    """Estimated distinct count of the union of the HLL sketches (0.0 if none)."""
    union = _hll_union(blobs)
    return 0.0 if union is None else float(union.get_estimate())
