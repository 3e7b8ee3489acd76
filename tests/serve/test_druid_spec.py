"""The Druid ingestion spec and native-query compilation, without a Druid: both must be
derived from squall.schema and serve.query, and the store's edges must say what to do."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from squall.druid_spec import data_schema, supervisor_spec
from squall.exceptions import ConfigError
from squall.schema import DIMENSIONS, HLL_LG_K, METRICS, QUANTILES_K, TIME_COLUMN
from squall.serve.druid_store import DruidStore, compile_query
from squall.serve.exceptions import StoreError, StoreUnavailable
from squall.serve.query import OUTPUT_METRICS, parse_query
from squall.serve.store import open_store

# what each schema kind must become in Druid (the mapping)
DRUID_TYPE = {
    "sum": "doubleSum",
    "min": "doubleMin",
    "max": "doubleMax",
    "quantiles": "quantilesDoublesSketch",
    "hll": "HLLSketchMerge",
}


def test_data_schema_follows_the_schema() -> None:
    schema = data_schema("ds")
    assert schema["dataSource"] == "ds"
    assert schema["timestampSpec"]["column"] == TIME_COLUMN
    assert [d["name"] for d in schema["dimensionsSpec"]["dimensions"]] == list(DIMENSIONS)
    assert [(a["name"], a["type"]) for a in schema["metricsSpec"]] == [
        (m.name, DRUID_TYPE[m.kind]) for m in METRICS
    ]
    by_name = {a["name"]: a for a in schema["metricsSpec"]}
    for m in METRICS:
        assert by_name[m.name]["fieldName"] == m.name
        if m.kind == "quantiles":
            assert by_name[m.name]["k"] == QUANTILES_K
        if m.kind == "hll":
            assert (by_name[m.name]["lgK"], by_name[m.name]["tgtHllType"]) == (HLL_LG_K, "HLL_4")
    granularity = schema["granularitySpec"]
    assert (granularity["queryGranularity"], granularity["rollup"]) == ("MINUTE", True)


def test_supervisor_spec_reads_committed_from_the_earliest_offset() -> None:
    spec = supervisor_spec("logs.metrics", "127.0.0.1:9092", "log_metrics")
    assert spec["type"] == "kafka"
    io = spec["spec"]["ioConfig"]
    assert io["topic"] == "logs.metrics"
    assert io["consumerProperties"] == {
        "bootstrap.servers": "127.0.0.1:9092",
        "isolation.level": "read_committed",
    }
    assert (io["useEarliestOffset"], io["taskCount"], io["period"]) == (True, 1, "PT5S")
    assert io["inputFormat"] == {"type": "json"}


def _compiled(body: dict[str, Any]) -> dict[str, Any]:
    return compile_query(parse_query(body), "ds", max_rows=100)


def test_every_metric_compiles_to_aggregators_and_post_aggregators() -> None:
    args = _compiled(
        {
            "queryType": "timeseries",
            "interval": "2015-05-17T23:07:30Z/2015-05-18T00:41:00Z",
            "granularity": "hour",
            "metrics": list(OUTPUT_METRICS),
            "filter": {"service": "web", "status_class": ["4xx", "5xx"]},
        }
    )
    assert args["datasource"] == "ds"
    assert args["intervals"] == "2015-05-17T23:07:30Z/2015-05-18T00:41:00Z"
    assert args["granularity"] == "hour"
    aggregated = {spec["fieldName"] for spec in args["aggregations"].values()}
    assert aggregated == {c for m in OUTPUT_METRICS.values() for c in m.columns}
    post = {name: p.post_aggregator["type"] for name, p in args["post_aggregations"].items()}
    assert post == {
        "error_rate": "arithmetic",
        "latency_avg": "arithmetic",
        "latency_p50": "quantilesDoublesSketchToQuantile",
        "latency_p95": "quantilesDoublesSketchToQuantile",
        "latency_p99": "quantilesDoublesSketchToQuantile",
        "unique_users": "HLLSketchEstimate",
    }
    fractions = {
        n: p.post_aggregator["fraction"]
        for n, p in args["post_aggregations"].items()
        if n.startswith("latency_p")
    }
    assert fractions == {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}
    flt = args["filter"].filter["filter"]
    assert flt["type"] == "and"
    assert [f.filter["filter"] for f in flt["fields"]] == [
        {"type": "selector", "dimension": "service", "value": "web"},
        {"type": "in", "dimension": "status_class", "values": ["4xx", "5xx"]},
    ]


@pytest.mark.parametrize(
    ("metric", "ranked_by"),
    [("events", "_events"), ("latency_max", "_latency_max"), ("error_rate", "error_rate")],
)
def test_top_n_ranks_by_an_aggregator_or_post_aggregator(metric: str, ranked_by: str) -> None:
    args = _compiled(
        {
            "queryType": "topN",
            "interval": "2015-05-17/2015-05-18",
            "dimension": "route",
            "metric": metric,
            "threshold": 3,
            "metrics": ["events"],
        }
    )
    assert (args["dimension"], args["metric"]) == ("route", ranked_by)
    assert args["threshold"] > 3  # extra candidates, so ties break by route as on DuckDB


def test_group_by_asks_for_one_row_more_than_the_limit() -> None:
    args = _compiled(
        {
            "queryType": "groupBy",
            "interval": "2015-05-17/2015-05-18",
            "dimensions": ["service", "route"],
            "metrics": ["events"],
        }
    )
    assert args["dimensions"] == ["service", "route"]
    assert args["limit_spec"]["limit"] == 101


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_druid_is_store_unavailable() -> None:
    port = _closed_port()
    store = open_store(f"druid://127.0.0.1:{port}")
    query = parse_query(
        {"queryType": "timeseries", "interval": "2015-05-17/2015-05-18", "metrics": ["events"]}
    )
    with pytest.raises(StoreUnavailable, match="squall stack up druid"):
        store.query(query)
    with pytest.raises(StoreUnavailable):
        store.time_boundary()


def test_the_druid_store_is_not_written_directly() -> None:
    store = DruidStore("127.0.0.1:8888")
    with pytest.raises(StoreError, match="supervisor"):
        store.write([{"time": "2015-05-17T22:30:00Z"}])


def test_druid_urls() -> None:
    store = open_store("druid://127.0.0.1:8888/other_ds")
    assert isinstance(store, DruidStore)
    assert (store.url, store.datasource) == ("druid://127.0.0.1:8888", "other_ds")
    assert open_store("druid://127.0.0.1:8888").datasource == "log_metrics"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="druid://HOST:PORT"):
        open_store("druid://127.0.0.1:port")


def test_events_schema_follows_the_event_columns_without_rollup() -> None:
    from squall.druid_spec import events_data_schema, events_supervisor_spec
    from squall.schema import EVENT_COLUMNS

    schema = events_data_schema("ev")
    assert schema["timestampSpec"] == {"column": "time", "format": "millis"}
    dims = schema["dimensionsSpec"]["dimensions"]
    assert [d["name"] for d in dims] == [c.name for c in EVENT_COLUMNS if c.name != "time"]
    types = {d["name"]: d["type"] for d in dims}
    assert types["status"] == "long" and types["latency_ms"] == "double"
    assert types["line"] == "string" and types["bytes"] == "long"
    assert [d["name"] for d in dims if d.get("createBitmapIndex") is False] == ["id", "line"]
    assert schema["granularitySpec"]["rollup"] is False
    assert schema["granularitySpec"]["queryGranularity"] == "NONE"
    assert schema["metricsSpec"] == []
    spec = events_supervisor_spec("logs.events", "k:9092", "ev")["spec"]
    assert spec["ioConfig"]["topic"] == "logs.events"
    assert spec["ioConfig"]["consumerProperties"]["isolation.level"] == "read_committed"
    assert spec["ioConfig"]["inputFormat"]["assumeNewlineDelimited"] is True


def test_retention_rules_keep_the_window_then_drop() -> None:
    from squall.druid_spec import retention_rules

    load, drop = retention_rules(7)
    assert load["type"] == "loadByPeriod" and load["period"] == "P7D"
    assert drop == {"type": "dropForever"}
    assert [r["type"] for r in retention_rules(0)] == ["loadForever"]


def test_a_search_compiles_to_one_descending_scan() -> None:
    from squall.serve.druid_events import compile_scan
    from squall.serve.search import parse_search

    query = parse_search(
        {
            "interval": "2015-05-17/2015-05-18",
            "filter": {"service": "web", "status_class": "5xx", "status": ["503", "x"]},
            "contains": "Timeout",
            "limit": 10,
        }
    )
    scan = compile_scan(query, "ev", query.start_ms, query.end_ms, 11)
    assert scan["queryType"] == "scan" and scan["order"] == "descending"
    assert scan["limit"] == 11 and scan["intervals"] == [
        "2015-05-17T00:00:00.000Z/2015-05-18T00:00:00.000Z"
    ]
    kinds = [f["type"] for f in scan["filter"]["fields"]]
    assert kinds == ["in", "in", "or", "search"]
    assert scan["filter"]["fields"][1] == {"type": "in", "dimension": "status", "values": ["503"]}
    assert scan["columns"][0] == "__time"
