"""The Druid side of the aggregate row: ingestion spec and column types, from one schema.

Everything here is derived from ``squall.schema`` (``TIME_COLUMN``, ``DIMENSIONS``,
``METRICS`` and the sketch parameters), so a column added there is ingested by Druid
without touching this module:

* ``sum`` -> ``doubleSum``: the row carries integer counts and float sums alike, and a
  double is exact for integers below 2**53 (the DuckDB store stores sums as DOUBLE too);
  the query side returns integer metrics as integers.
* ``min``/``max`` -> ``doubleMin``/``doubleMax`` (null when no row had a value).
* ``quantiles`` -> ``quantilesDoublesSketch`` with ``k = QUANTILES_K``, over the row's
  serialized sketch (base64): Druid merges pre-built sketches at ingestion and query time.
* ``hll`` -> ``HLLSketchMerge`` with ``lgK = HLL_LG_K``, ``HLL_4``.

Roll-up is by minute (``queryGranularity`` MINUTE, ``rollup`` true), so Druid combines
the delta rows of one (minute, dimensions) key exactly as the DuckDB store does.
``supervisor_spec`` wraps the data schema in a Kafka supervisor that reads
``logs.metrics`` from the earliest offset with ``isolation.level=read_committed``: only
committed transactions of the compute tier's transactional sink are ingested, and Druid
stores the Kafka offsets with each segment, so ingestion is exactly-once.
"""

from __future__ import annotations

from typing import Any

from squall.schema import (
    DIMENSIONS,
    EVENT_COLUMNS,
    HLL_LG_K,
    METRICS,
    QUANTILES_K,
    TIME_COLUMN,
    Metric,
)

__all__ = [
    "DATASOURCE",
    "EVENTS_DATASOURCE",
    "aggregator",
    "data_schema",
    "events_data_schema",
    "events_supervisor_spec",
    "retention_rules",
    "supervisor_spec",
]

DATASOURCE = "log_metrics"
"""The default datasource name (``Settings.datasource``)."""
EVENTS_DATASOURCE = "log_events"
"""The default datasource of the raw events (``Settings.events_datasource``)."""
_UNINDEXED = frozenset({"id", "line"})
"""Event columns unique per event: no bitmap index (it would cost a bitmap per value)."""


def aggregator(metric: Metric, name: str | None = None, field: str | None = None) -> dict[str, Any]:
    """The Druid aggregator that combines ``metric``'s column (ingestion and queries)."""
    out = name or metric.name
    src = field or metric.name
    if metric.kind == "sum":
        return {"type": "doubleSum", "name": out, "fieldName": src}
    if metric.kind == "min":
        return {"type": "doubleMin", "name": out, "fieldName": src}
    if metric.kind == "max":
        return {"type": "doubleMax", "name": out, "fieldName": src}
    if metric.kind == "quantiles":
        return {"type": "quantilesDoublesSketch", "name": out, "fieldName": src, "k": QUANTILES_K}
    if metric.kind == "hll":
        return {
            "type": "HLLSketchMerge",
            "name": out,
            "fieldName": src,
            "lgK": HLL_LG_K,
            "tgtHllType": "HLL_4",
            "round": False,
        }
    raise AssertionError(f"no Druid aggregator for metric kind {metric.kind!r}")


def data_schema(datasource: str = DATASOURCE) -> dict[str, Any]:
    """The ``dataSchema`` of the ingestion spec: time, dimensions, metrics, roll-up."""
    return {
        "dataSource": datasource,
        "timestampSpec": {"column": TIME_COLUMN, "format": "iso"},
        "dimensionsSpec": {"dimensions": [{"type": "string", "name": d} for d in DIMENSIONS]},
        "metricsSpec": [aggregator(m) for m in METRICS],
        "granularitySpec": {
            "type": "uniform",
            "segmentGranularity": "HOUR",
            "queryGranularity": "MINUTE",
            "rollup": True,
        },
    }


def events_data_schema(datasource: str = EVENTS_DATASOURCE) -> dict[str, Any]:
    """The ``dataSchema`` of the raw events, from ``EVENT_COLUMNS``: no roll-up, times
    kept to the millisecond, strings as string dimensions (``id`` and ``line`` without
    bitmap indexes), longs and doubles as numeric dimensions (nullable)."""
    dims: list[dict[str, Any]] = []
    time_column = ""
    for column in EVENT_COLUMNS:
        if column.type == "time":
            time_column = column.name
        elif column.type == "string":
            dim: dict[str, Any] = {"type": "string", "name": column.name}
            if column.name in _UNINDEXED:
                dim["createBitmapIndex"] = False
            dims.append(dim)
        else:
            dims.append({"type": column.type, "name": column.name})
    return {
        "dataSource": datasource,
        "timestampSpec": {"column": time_column, "format": "millis"},
        "dimensionsSpec": {"dimensions": dims},
        "metricsSpec": [],
        "granularitySpec": {
            "type": "uniform",
            "segmentGranularity": "HOUR",
            "queryGranularity": "NONE",
            "rollup": False,
        },
    }


def retention_rules(days: int) -> list[dict[str, Any]]:
    """Druid's load rules for a retention of ``days`` (0: keep everything): segments that
    overlap the last ``days`` days (or the future) stay loaded, older ones are dropped.
    Druid drops whole segments, so an event leaves within an hour (its segment's span)
    after passing the window, at the coordinator's next run."""
    replicants = {"_default_tier": 1}
    if days <= 0:
        return [{"type": "loadForever", "tieredReplicants": replicants}]
    return [
        {
            "type": "loadByPeriod",
            "period": f"P{days}D",
            "includeFuture": True,
            "tieredReplicants": replicants,
        },
        {"type": "dropForever"},
    ]


def events_supervisor_spec(
    topic: str,
    bootstrap_servers: str,
    datasource: str = EVENTS_DATASOURCE,
    *,
    period: str = "PT5S",
    task_duration: str = "PT1H",
) -> dict[str, Any]:
    """The Kafka supervisor of the raw events: ``supervisor_spec``'s reading (earliest,
    read_committed, exactly once) with ``events_data_schema``. A record holds up to
    ``EVENTS_PER_RECORD`` events, one JSON object a line (``assumeNewlineDelimited``)."""
    spec = supervisor_spec(
        topic, bootstrap_servers, datasource, period=period, task_duration=task_duration
    )
    spec["spec"]["dataSchema"] = events_data_schema(datasource)
    spec["spec"]["ioConfig"]["inputFormat"] = {"type": "json", "assumeNewlineDelimited": True}
    return spec


def supervisor_spec(
    topic: str,
    bootstrap_servers: str,
    datasource: str = DATASOURCE,
    *,
    period: str = "PT5S",
    task_duration: str = "PT1H",
) -> dict[str, Any]:
    """The Kafka supervisor spec (``POST /druid/indexer/v1/supervisor``).

    One task reads every partition of ``topic`` (``taskCount`` 1: a 2-core machine);
    ``period`` is how often the supervisor checks its tasks (Druid's PT30S default slows
    the start of ingestion). Rows are persisted every minute, so a restart replays little.
    """
    return {
        "type": "kafka",
        "spec": {
            "dataSchema": data_schema(datasource),
            "ioConfig": {
                "type": "kafka",
                "topic": topic,
                "inputFormat": {"type": "json"},
                "consumerProperties": {
                    "bootstrap.servers": bootstrap_servers,
                    "isolation.level": "read_committed",
                },
                "useEarliestOffset": True,
                "taskCount": 1,
                "replicas": 1,
                "taskDuration": task_duration,
                "period": period,
                "startDelay": "PT1S",
            },
            "tuningConfig": {
                "type": "kafka",
                "maxRowsInMemory": 100_000,
                "intermediatePersistPeriod": "PT1M",
                "resetOffsetAutomatically": False,
            },
        },
    }
