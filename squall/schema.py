"""The data contracts between the stages: one definition, used everywhere.

* ``logs.raw`` records are Flume events, ``{"headers": {str: str}, "body": str}`` as JSON,
  keyed by the ``service`` header.
* ``logs.metrics`` records are aggregate rows (below), one JSON object per
  (minute, dimensions) per flush, holding *deltas*: rows with the same key are summed
  (min/max'd, sketch-merged) by the store.
* ``logs.deadletter`` records are ``{"reason": str, "event": <the Flume event>}``.
* ``logs.events`` records are NDJSON: up to ``EVENTS_PER_RECORD`` parsed events, one JSON
  object per line with the ``EVENT_COLUMNS`` below (``time`` in epoch milliseconds),
  keyed by service. The DuckDB ``log_events`` table, the Druid ``log_events`` supervisor
  and the search API derive their columns from ``EVENT_COLUMNS``.

squall.rows encodes, checks and merges the rows; squall.sketches holds their sketches.

The DuckDB store, the Druid supervisor spec and the compute tier all derive their
schemas from ``DIMENSIONS`` and ``METRICS``; add a column here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DIMENSIONS",
    "EVENTS_PER_RECORD",
    "EVENT_COLUMNS",
    "HLL_LG_K",
    "METRICS",
    "QUANTILES_K",
    "TIME_COLUMN",
    "EventColumn",
    "Metric",
]

TIME_COLUMN = "time"
"""Minute bucket of the event time, ISO-8601 UTC (``2015-05-17T10:05:00Z``)."""

DIMENSIONS: tuple[str, ...] = ("service", "method", "route", "status_class", "status")
"""All strings. ``route`` is the path without query, ids templated (``/users/:id``)."""

MetricKind = Literal["sum", "min", "max", "quantiles", "hll"]


@dataclass(frozen=True, slots=True)
class Metric:
    """A stored column: how it is computed from each event, and how rows combine.

    ``source`` is a Python expression over the fields of a parsed event (``time_ms``,
    ``service``, ``method``, ``route``, ``status``, ``bytes``, ``latency_ms``, ``user``; see
    compute.topologies.log_metrics.parse.ParsedEvent). The log-metrics aggregator
    compiles every metric's expression into its per-event loop once; a ``None`` value
    leaves the metric alone for that event. ``kind`` says what is done with the values:
    ``sum`` adds them, ``min``/``max`` keep the extreme, ``quantiles``/``hll`` update a
    sketch (squall.sketches). Adding a metric of an existing kind is one line here.
    """

    name: str
    kind: MetricKind
    source: str
    doc: str


METRICS: tuple[Metric, ...] = (
    Metric("events", "sum", "1", "number of events"),
    Metric("errors", "sum", "status >= 500", "events with status >= 500"),
    Metric("bytes", "sum", "bytes", "response bytes"),
    Metric("latency_count", "sum", "latency_ms is not None", "events that carried a latency"),
    Metric("latency_sum", "sum", "latency_ms", "sum of latency_ms over those events"),
    Metric("latency_min", "min", "latency_ms", "smallest latency_ms, null if none"),
    Metric("latency_max", "max", "latency_ms", "largest latency_ms, null if none"),
    Metric("latency_sketch", "quantiles", "latency_ms", "DataSketches quantiles of latency_ms"),
    Metric("users_sketch", "hll", "user", "DataSketches HLL of user, else client ip"),
)

QUANTILES_K = 128
"""k of the latency quantiles sketch (Druid's quantilesDoublesSketch default)."""

HLL_LG_K = 12
"""lg_k of the users HLL sketch (Druid's HLLSketchMerge default; HLL_4 target type)."""


EventType = Literal["time", "string", "long", "double"]


@dataclass(frozen=True, slots=True)
class EventColumn:
    """A column of a stored raw event (``logs.events``, table/datasource ``log_events``).

    ``type``: ``time`` is epoch milliseconds UTC (an integer on the wire), ``string`` text,
    ``long`` an integer, ``double`` a float. ``nullable`` columns may be JSON null.
    """

    name: str
    type: EventType
    nullable: bool
    doc: str


EVENT_COLUMNS: tuple[EventColumn, ...] = (
    EventColumn("time", "time", False, "event time, epoch ms UTC (not bucketed)"),
    EventColumn("service", "string", False, "as in the aggregates"),
    EventColumn("route", "string", False, "templated path, as in the aggregates"),
    EventColumn("status", "long", False, "HTTP status, 100..599"),
    EventColumn("method", "string", False, "normalised method, as in the aggregates"),
    EventColumn("user", "string", True, "the user, else the client ip"),
    EventColumn("latency_ms", "double", True, "latency in ms, if the line carried one"),
    EventColumn("bytes", "long", False, "response bytes"),
    EventColumn("host", "string", True, "the collector's host header"),
    EventColumn(
        "id",
        "string",
        False,
        "the event's id header (a UUID from the collector), else raw-<partition>-<offset> "
        "of its logs.raw record: unique, and the same after every replay",
    ),
    EventColumn("line", "string", False, "the raw line (the Flume body) as sent"),
)
"""Every raw event's columns, in this order on the wire and in every store."""

EVENTS_PER_RECORD = 256
"""Most events in one ``logs.events`` record (NDJSON lines)."""
