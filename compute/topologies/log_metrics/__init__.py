"""The log-metrics topology's logic: Flume events -> per-minute aggregate rows.

    parse_event(headers, body) -> ParsedEvent | Rejected     (parse, route, eventtime)
    MinuteAggregator().add_all(events); .flush() -> rows     (aggregate)
    encode_row / decode_row / merge_rows                     (rows, sketches)

Plain functions and classes with no dependency on the compute runtime: the bolts of the
topology call them, and the stores and tests reuse the row functions.
"""

from __future__ import annotations

from squall.compute.topologies.log_metrics.aggregate import MinuteAggregator
from squall.compute.topologies.log_metrics.parse import ParsedEvent, Rejected, parse_event
from squall.compute.topologies.log_metrics.route import template_route
from squall.compute.topologies.log_metrics.rows import (
    COLUMNS,
    KEY_COLUMNS,
    Row,
    decode_row,
    encode_row,
    merge_rows,
    row_key,
)

__all__ = [
    "COLUMNS",
    "KEY_COLUMNS",
    "MinuteAggregator",
    "ParsedEvent",
    "Rejected",
    "Row",
    "decode_row",
    "encode_row",
    "merge_rows",
    "parse_event",
    "row_key",
    "template_route",
]
