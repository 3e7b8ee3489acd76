"""The public names of serve/, pinned: changing them is a deliberate API change."""

from __future__ import annotations

import importlib

import pytest

import squall.serve as serve
from squall.exceptions import SquallError
from squall.serve import exceptions

SURFACE = {
    "squall.serve": [
        "Loader",
        "OffsetStore",
        "Query",
        "ServeStage",
        "Store",
        "create_app",
        "open_store",
        "parse_query",
    ],
    "squall.serve.exceptions": [
        "BadInterval",
        "InvalidQuery",
        "QueryTimeout",
        "ServeError",
        "StoreError",
        "StoreUnavailable",
        "TooManyRows",
        "UnknownName",
    ],
    "squall.serve.store": ["OffsetStore", "Store", "open_store"],
    "squall.serve.app": ["create_app"],
    "squall.serve.limits": [
        "DEFAULT_QUERY_TIMEOUT",
        "MAX_BODY_BYTES",
        "MAX_BUCKETS",
        "MAX_DEPTH",
        "MAX_FILTER_VALUES",
        "MAX_ROWS",
        "MAX_THRESHOLD",
        "QueryLimits",
        "check_depth",
        "too_deep",
    ],
    "squall.serve.cli": ["format_status", "run_serve", "run_status", "serve_settings"],
    "squall.serve.pipeline": ["CollectorScrape", "PipelineStatus", "WorkerTail", "topology_group"],
    "squall.serve.service": ["ServeStage"],
    "squall.serve.loader": ["DEFAULT_GROUP", "Loader"],
    "squall.serve.search": [
        "DEFAULT_LIMIT",
        "MAX_LIMIT",
        "MAX_PATTERN",
        "EventRow",
        "EventStore",
        "SearchModel",
        "SearchQuery",
        "decode_cursor",
        "encode_cursor",
        "event_json",
        "parse_search",
        "search_page",
        "to_ms",
    ],
    "squall.serve.duckdb_events": ["TABLE", "DuckDBEvents"],
    "squall.serve.druid_events": ["MAX_TIES", "DruidEvents", "compile_scan"],
    "squall.serve.event_loader": ["EventLoader", "decode_events"],
    "squall.serve.search_cli": ["build_body", "run_search"],
}


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_exported_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(SURFACE[module])
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"


def test_errors_are_rooted_at_squall_error() -> None:
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), SquallError)
    assert issubclass(exceptions.TooManyRows, exceptions.InvalidQuery)
    assert issubclass(exceptions.StoreUnavailable, exceptions.StoreError)
    assert serve.ServeStage.__module__ == "squall.serve.service"
