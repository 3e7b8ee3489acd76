"""Public names, and an aggregator that refuses a schema it cannot compute."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import squall.compute.topologies.log_metrics as log_metrics
import squall.schema
from squall.compute.topologies.exceptions import SchemaMismatchError
from squall.compute.topologies.log_metrics.parse import ParsedEvent
from squall.schema import METRICS, Metric

PACKAGE = Path(log_metrics.__file__).parent


def test_public_names() -> None:
    assert sorted(log_metrics.__all__) == [
        "MinuteAggregator",
        "ParsedEvent",
        "Rejected",
        "parse_event",
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


def test_aggregator_refuses_a_schema_it_cannot_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = _fresh("aggregate")  # the real schema loads
    aggregator = fresh.MinuteAggregator()
    aggregator.add(ParsedEvent(0, "s", "GET", "/", 200, 1, None, None))
    assert len(aggregator.flush()) == 1
    unknown = Metric("retries", "sum", "retries", "a field parsed events do not have")
    monkeypatch.setattr(squall.schema, "METRICS", (*METRICS, unknown))
    with pytest.raises(SchemaMismatchError, match=r"'retries' reads \['retries'\]"):
        _fresh("aggregate")
    broken = Metric("retries", "sum", "status >=", "not an expression")
    monkeypatch.setattr(squall.schema, "METRICS", (*METRICS, broken))
    with pytest.raises(SchemaMismatchError, match="is not a Python expression"):
        _fresh("aggregate")
