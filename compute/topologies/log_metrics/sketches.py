"""The two DataSketches of the aggregate row, and their wire form.

The row carries each sketch as standard base64 of the bytes that Druid's
druid-datasketches extension reads for the matching aggregator, so Druid can merge the
deltas at ingestion and query time:

* ``latency_sketch`` (kind ``quantiles``): ``quantiles_doubles_sketch(k=QUANTILES_K)``,
  ``serialize()``: Druid ``quantilesDoublesSketch``;
* ``users_sketch`` (kind ``hll``): ``hll_sketch(HLL_LG_K, HLL_4)``,
  ``serialize_compact()``: Druid ``HLLSketchMerge`` (``lgK`` 12, ``tgtHllType`` HLL_4).

An empty sketch is sent as ``null``; Druid's sketch aggregators skip nulls. Python
strings are hashed as UTF-8 bytes, as Druid hashes them, so sketches built here and
sketches Druid builds from raw values count the same users.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Any

from datasketches import hll_sketch, hll_union, quantiles_doubles_sketch, tgt_hll_type

from squall.compute.topologies.exceptions import RowFormatError
from squall.schema import HLL_LG_K, QUANTILES_K

__all__ = [
    "SKETCH_CODECS",
    "SketchCodec",
    "new_latency_sketch",
    "new_users_sketch",
]


def new_latency_sketch() -> quantiles_doubles_sketch:
    """An empty latency quantiles sketch with the row's ``k``."""
    return quantiles_doubles_sketch(QUANTILES_K)


def new_users_sketch() -> hll_sketch:
    """An empty users HLL sketch with the row's ``lg_k`` and HLL_4 target type."""
    return hll_sketch(HLL_LG_K, tgt_hll_type.HLL_4)


class SketchCodec:
    """Encode, decode and union one kind of sketch column."""

    __slots__ = ("_deserialize", "_serialize", "_union", "kind")

    def __init__(
        self,
        kind: str,
        serialize: Callable[[Any], bytes],
        deserialize: Callable[[bytes], Any],
        union: Callable[[Iterable[Any]], Any],
    ) -> None:
        self.kind = kind
        self._serialize = serialize
        self._deserialize = deserialize
        self._union = union

    def encode(self, sketch: Any) -> str | None:
        """Sketch -> base64 text for the JSON row; ``None`` for no or an empty sketch."""
        if sketch is None or sketch.is_empty():
            return None
        return base64.b64encode(self._serialize(sketch)).decode("ascii")

    def decode(self, text: str | None) -> Any:
        """Base64 text from a row -> sketch (``None`` stays ``None``)."""
        if text is None:
            return None
        try:
            return self._deserialize(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError, IndexError, RuntimeError) as exc:
            raise RowFormatError(
                f"a {self.kind} sketch column is not base64 of a serialized DataSketches "
                f"{self.kind} sketch ({exc}); was the row written by another schema version?"
            ) from exc

    def union(self, sketches: Iterable[Any]) -> Any:
        """A new sketch that is the union of ``sketches`` (``None`` entries skipped)."""
        present = [s for s in sketches if s is not None]
        return self._union(present) if present else None


def _union_quantiles(sketches: Iterable[quantiles_doubles_sketch]) -> quantiles_doubles_sketch:
    result = new_latency_sketch()
    for sketch in sketches:
        result.merge(sketch)
    return result


def _union_hll(sketches: Iterable[hll_sketch]) -> hll_sketch:
    union = hll_union(HLL_LG_K)
    for sketch in sketches:
        union.update(sketch)
    return union.get_result(tgt_hll_type.HLL_4)


SKETCH_CODECS: dict[str, SketchCodec] = {
    "quantiles": SketchCodec(
        "quantiles",
        lambda s: s.serialize(),
        quantiles_doubles_sketch.deserialize,
        _union_quantiles,
    ),
    "hll": SketchCodec(
        "hll",
        lambda s: s.serialize_compact(),
        hll_sketch.deserialize,
        _union_hll,
    ),
}
"""Codec per sketch ``Metric.kind`` of squall/schema.py."""
