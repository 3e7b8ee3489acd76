"""Per-minute aggregation of parsed events into delta rows.

The aggregator keeps one cell per (minute, service, method, route, status) of the events
added since the last ``flush()``; ``status_class`` follows from ``status``. ``flush()``
returns the cells as rows (see ``rows``) and starts over, so every row is a delta that
the store sums with the earlier ones: nothing waits for a minute to close, late and
out-of-order events (even years old) simply land in their own minute's key.

The per-event code is hand-written for speed, but the columns come from
squall/schema.py: cells are laid out in ``METRICS`` order, and importing this module
fails if ``METRICS`` names a column this aggregator does not know how to compute.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from squall.compute.topologies.exceptions import SchemaMismatchError
from squall.compute.topologies.log_metrics.eventtime import minute_iso
from squall.compute.topologies.log_metrics.parse import ParsedEvent
from squall.compute.topologies.log_metrics.rows import Row
from squall.compute.topologies.log_metrics.sketches import new_latency_sketch, new_users_sketch
from squall.schema import DIMENSIONS, METRICS, TIME_COLUMN

__all__ = ["MinuteAggregator"]

_COMPUTED = (
    "events",
    "errors",
    "bytes",
    "latency_count",
    "latency_sum",
    "latency_min",
    "latency_max",
    "latency_sketch",
    "users_sketch",
)
if tuple(m.name for m in METRICS) != _COMPUTED or DIMENSIONS != (
    "service",
    "method",
    "route",
    "status_class",
    "status",
):
    raise SchemaMismatchError(
        "squall/schema.py DIMENSIONS/METRICS differ from what the log-metrics aggregator "
        f"computes (metrics {_COMPUTED}); teach compute/topologies/log_metrics/aggregate.py "
        "the new columns"
    )
_NAMES = _COMPUTED
_EMPTY_CELL: list[Any] = [0 if m.kind == "sum" else None for m in METRICS]
_STATUS_TEXT = {s: str(s) for s in range(100, 600)}
_STATUS_CLASS = {s: f"{s // 100}xx" for s in range(100, 600)}
_MINUTE_MS = 60_000

Key = tuple[int, str, str, str, int]
"""(minute start in epoch ms, service, method, route, status)."""


class MinuteAggregator:
    """Accumulates events per minute and key; ``flush()`` hands out the deltas.

    Not thread-safe: one aggregator per bolt task, as the fields grouping on the key
    dimensions sends every event of a key to the same task.
    """

    __slots__ = ("_cells",)

    def __init__(self) -> None:
        self._cells: dict[Key, list[Any]] = {}  # a cell: one value per metric, METRICS order

    def __len__(self) -> int:
        """Keys (rows) waiting for the next flush."""
        return len(self._cells)

    def add(self, event: ParsedEvent) -> None:
        """Count one parsed event."""
        self.add_all((event,))

    def add_all(self, events: Iterable[ParsedEvent]) -> None:
        """Count parsed events. Hot path: one dict lookup and a few list updates each.

        Any sequence of the ``ParsedEvent`` values in field order works at run time (a
        tuple's ``values`` as the parse bolt emitted them), so bolts need not convert.
        """
        cells = self._cells
        get = cells.get
        empty = _EMPTY_CELL
        for time_ms, service, method, route, status, size, latency, user in events:
            key = (time_ms - time_ms % _MINUTE_MS, service, method, route, status)
            cell = get(key)
            if cell is None:
                cell = cells[key] = empty.copy()
            cell[0] += 1
            if status >= 500:
                cell[1] += 1
            cell[2] += size
            if latency is not None:
                cell[3] += 1
                cell[4] += latency
                low = cell[5]
                if low is None:
                    cell[5] = cell[6] = latency
                    sketch = cell[7] = new_latency_sketch()
                else:
                    if latency < low:
                        cell[5] = latency
                    if latency > cell[6]:
                        cell[6] = latency
                    sketch = cell[7]
                sketch.update(latency)
            if user is not None:
                users = cell[8]
                if users is None:
                    users = cell[8] = new_users_sketch()
                users.update(user)

    def flush(self) -> list[Row]:
        """The rows accumulated since the last flush (in first-seen order); then reset."""
        cells, self._cells = self._cells, {}
        rows: list[Row] = []
        for (minute, service, method, route, status), cell in cells.items():
            row: Row = {
                TIME_COLUMN: minute_iso(minute),
                "service": service,
                "method": method,
                "route": route,
                "status_class": _STATUS_CLASS[status],
                "status": _STATUS_TEXT[status],
            }
            row.update(zip(_NAMES, cell, strict=True))
            rows.append(row)
        return rows
