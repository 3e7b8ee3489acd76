"""The log-metrics topology's logic: Flume events -> per-minute aggregate rows.

    parse_event(headers, body) -> ParsedEvent | Rejected     (parse, route, eventtime)
    MinuteAggregator().add_all(events); .flush() -> rows     (aggregate)

Plain functions and classes with no dependency on the compute runtime: the bolts of the
topology call them. The rows they make are encoded, checked and merged by squall.rows,
which the stores and tests use too.
"""

from __future__ import annotations

from squall.compute.topologies.log_metrics.aggregate import MinuteAggregator
from squall.compute.topologies.log_metrics.parse import ParsedEvent, Rejected, parse_event
from squall.compute.topologies.log_metrics.route import template_route

__all__ = [
    "MinuteAggregator",
    "ParsedEvent",
    "Rejected",
    "parse_event",
    "template_route",
]
