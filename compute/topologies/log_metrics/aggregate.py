"""Per-minute aggregation of parsed events into delta rows.

The aggregator keeps one cell per (minute, service, method, route, status) of the events
added since the last ``flush()``; ``status_class`` follows from ``status``. ``flush()``
returns the cells as rows (squall.rows) and starts over, so every row is a delta that
the store sums with the earlier ones: nothing waits for a minute to close, late and
out-of-order events (even years old) simply land in their own minute's key.

The per-event loop is compiled once, at import, from squall/schema.py: each metric's
``source`` expression and ``kind`` become a few lines of plain Python (``LOOP_SOURCE``
shows them), so the loop runs as fast as a hand-written one and a metric added to the
schema is computed without touching this module. Importing fails with
``SchemaMismatchError`` if a metric reads something a parsed event does not have.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from squall.compute.topologies.exceptions import SchemaMismatchError
from squall.compute.topologies.log_metrics.eventtime import minute_iso
from squall.compute.topologies.log_metrics.parse import ParsedEvent
from squall.rows import Row
from squall.schema import DIMENSIONS, METRICS, TIME_COLUMN, Metric
from squall.sketches import SKETCH_KINDS

__all__ = ["LOOP_SOURCE", "MinuteAggregator"]

if DIMENSIONS != ("service", "method", "route", "status_class", "status"):
    raise SchemaMismatchError(
        f"squall/schema.py DIMENSIONS are {DIMENSIONS}, but the log-metrics aggregator keys "
        "its cells by (minute, service, method, route, status); teach "
        "compute/topologies/log_metrics/aggregate.py the new dimensions"
    )

_MINUTE_MS = 60_000
_FIELDS = ParsedEvent._fields


def _metric_lines(i: int, metric: Metric, value: str, pad: str) -> list[str]:
    """Lines that fold ``value`` (a name or a literal) into ``cell[i]`` by the metric's kind."""
    if metric.kind == "sum":
        return [f"{pad}cell[{i}] += {value}"]
    if metric.kind in ("min", "max"):
        op = "<" if metric.kind == "min" else ">"
        return [
            f"{pad}if cell[{i}] is None or {value} {op} cell[{i}]:",
            f"{pad}    cell[{i}] = {value}",
        ]
    return [  # a sketch, made when the cell sees its first value
        f"{pad}sketch = cell[{i}]",
        f"{pad}if sketch is None:",
        f"{pad}    sketch = cell[{i}] = new_{i}()",
        f"{pad}sketch.update({value})",
    ]


def _source_lines(source: str, members: list[tuple[int, Metric]]) -> list[str]:
    """Evaluate one source expression for its metrics, with as little work as it allows:
    a literal or a field is used as is, a test that sums counts when true, and only a
    value that can be ``None`` is checked for it."""
    tree = _checked(members[0][1])
    pad = "        "
    if isinstance(tree, ast.Constant) and tree.value is not None:
        value, lines = repr(tree.value), []
    elif _is_test(tree) and all(m.kind == "sum" for _, m in members):
        value, lines = "1", [f"{pad}if {source}:"]
        pad += "    "
    else:
        value = source if isinstance(tree, ast.Name) else "value"
        lines = [] if value == source else [f"{pad}value = {source}"]
        lines.append(f"{pad}if {value} is not None:")
        pad += "    "
    for i, metric in members:
        lines += _metric_lines(i, metric, value, pad)
    return lines


def _is_test(tree: ast.expr) -> bool:
    """True for an expression whose value is always a bool (a comparison, a ``not``)."""
    return isinstance(tree, ast.Compare) or (
        isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.Not)
    )


def _checked(metric: Metric) -> ast.expr:
    try:
        tree = ast.parse(metric.source, mode="eval").body
    except SyntaxError as exc:
        raise SchemaMismatchError(
            f"metric {metric.name!r}: source {metric.source!r} is not a Python expression "
            f"({exc.msg}); fix it in squall/schema.py"
        ) from exc
    unknown = sorted(
        {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(_FIELDS) - {"None"}
    )
    if unknown:
        raise SchemaMismatchError(
            f"metric {metric.name!r} reads {unknown}, which a parsed event does not have "
            f"(its fields: {', '.join(_FIELDS)}); fix its source in squall/schema.py"
        )
    return tree


AddAll = Callable[[dict[Any, list[Any]], Iterable[Any]], None]
"""The compiled loop: ``add_all(cells, events)``."""


def compile_loop(metrics: Sequence[Metric]) -> tuple[AddAll, str]:
    """The per-event loop for ``metrics`` and its source. Metrics that share a source
    expression share one evaluation and one ``None`` check."""
    by_source: dict[str, list[tuple[int, Metric]]] = {}
    for i, metric in enumerate(metrics):
        by_source.setdefault(metric.source, []).append((i, metric))
    lines = [
        "def add_all(cells, events):",
        "    get = cells.get",
        f"    for {', '.join(_FIELDS)} in events:",
        f"        key = (time_ms - time_ms % {_MINUTE_MS}, service, method, route, status)",
        "        cell = get(key)",
        "        if cell is None:",
        "            cell = cells[key] = empty.copy()",
    ]
    for source, members in by_source.items():
        lines += _source_lines(source, members)
    source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {
        "empty": [0 if m.kind == "sum" else None for m in metrics],
        **{
            f"new_{i}": SKETCH_KINDS[m.kind].new
            for i, m in enumerate(metrics)
            if m.kind in SKETCH_KINDS
        },
    }
    exec(compile(source, "<log-metrics aggregator>", "exec"), namespace)
    return namespace["add_all"], source


_add_all, LOOP_SOURCE = compile_loop(METRICS)
_NAMES = tuple(m.name for m in METRICS)
_STATUS_TEXT = {s: str(s) for s in range(100, 600)}
_STATUS_CLASS = {s: f"{s // 100}xx" for s in range(100, 600)}

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
        _add_all(self._cells, (event,))

    def add_all(self, events: Iterable[ParsedEvent]) -> None:
        """Count parsed events. Hot path: one dict lookup and a few list updates each.

        Any sequence of the ``ParsedEvent`` values in field order works at run time (a
        tuple's ``values`` as the parse bolt emitted them), so bolts need not convert.
        """
        _add_all(self._cells, events)

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
