"""Public names, and squall/schema.py as the one source of the row's columns."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import orjson
import pytest

import squall.compute.topologies.log_metrics as log_metrics
import squall.schema
from squall.compute.topologies.exceptions import RowFormatError, SchemaMismatchError
from squall.compute.topologies.log_metrics.parse import ParsedEvent
from squall.schema import METRICS, Metric

PACKAGE = Path(log_metrics.__file__).parent


def test_public_names() -> None:
    assert sorted(log_metrics.__all__) == [
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
    for name in log_metrics.__all__:
        assert getattr(log_metrics, name) is not None


def _fresh(module: str) -> ModuleType:
    """Execute a module of the package anew (under another name), reading the schema now."""
    spec = importlib.util.spec_from_file_location(f"_fresh_{module}", PACKAGE / f"{module}.py")
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    return fresh


def test_rows_follow_a_metric_added_to_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = (*METRICS, Metric("retries", "sum", "test column"), Metric("ttfb_max", "max", "t"))
    monkeypatch.setattr(squall.schema, "METRICS", extra)
    rows = _fresh("rows")
    assert rows.COLUMNS[-2:] == ("retries", "ttfb_max")
    row: dict[str, object] = dict.fromkeys(rows.COLUMNS)
    row.update({c: "x" for c in rows.KEY_COLUMNS})
    row.update({m.name: 0 for m in METRICS if m.kind == "sum"})
    first = rows.decode_row(rows.encode_row({**row, "retries": 2, "ttfb_max": 5.0}))
    second = rows.decode_row(orjson.dumps({**row, "retries": 3, "ttfb_max": 7.5}))
    (merged,) = rows.merge_rows([first, second])
    assert (merged["retries"], merged["ttfb_max"]) == (5, 7.5)
    with pytest.raises(RowFormatError, match="lacks the columns"):
        rows.decode_row(orjson.dumps({k: v for k, v in row.items() if k != "retries"}))


def test_aggregator_refuses_a_schema_it_cannot_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = _fresh("aggregate")  # the real schema loads
    aggregator = fresh.MinuteAggregator()
    aggregator.add(ParsedEvent(0, "s", "GET", "/", 200, 1, None, None))
    assert len(aggregator.flush()) == 1
    monkeypatch.setattr(squall.schema, "METRICS", (*METRICS, Metric("retries", "sum", "t")))
    with pytest.raises(SchemaMismatchError, match="teach compute/topologies/log_metrics"):
        _fresh("aggregate")
