"""The Druid store against a real Druid fed by a real Kafka.

* The store contract (tests/serve/test_store_contract.py, every query type, granularity,
  filter and metric against ground truth from the raw events) runs here once more with
  Druid behind the HTTP query API: its tests are collected into this module, whose
  ``loaded_store`` is a DruidStore.
* Parity: the same rows in DuckDB and in Druid, the same queries: exact metrics equal,
  sketch metrics within the sketches' error of each other and of the truth.
* Exactly-once ingestion: the rows go to Kafka in committed transactions, with an aborted
  transaction of extra rows in between; Druid (read_committed) must count none of those.

The rows reach Druid only through Kafka and the supervisor (squall.druid_spec), into a
datasource and topic of their own, so the tests never touch ``log_metrics``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from squall.deploy.stack import druid
from squall.serve.druid_store import DruidStore
from squall.serve.exceptions import QueryTimeout, StoreError
from squall.serve.query import parse_query
from squall.serve.store import Store, open_store
from squall.settings import Settings

# the first test pays for starting Druid (and resolving its jars on a new machine)
pytestmark = [pytest.mark.druid, pytest.mark.timeout(900)]

INGEST_DEADLINE = 240.0


def _load_contract() -> Any:
    path = Path(__file__).with_name("test_store_contract.py")
    spec = importlib.util.spec_from_file_location("_squall_store_contract", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_contract = _load_contract()
for _name, _test in vars(_contract).items():
    if _name.startswith("test_"):
        globals()[_name] = _test  # collected here, against the Druid ``loaded_store``
WHOLE, PART, FILTERS = _contract.WHOLE, _contract.PART, _contract.FILTERS


def _kafka() -> Any:
    """kafka-python, imported late: its import warns (importlib.resources.read_text)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import kafka
        import kafka.admin

    return kafka


def _produce(
    kafka_at: str, topic: str, rows: list[dict[str, Any]], junk: list[dict[str, Any]]
) -> None:
    """``rows`` in two committed transactions, ``junk`` in an aborted one between them."""
    producer = _kafka().KafkaProducer(
        bootstrap_servers=kafka_at, transactional_id=f"squall-test-{uuid.uuid4().hex}"
    )
    try:
        producer.init_transactions()
        half = len(rows) // 2
        for batch, commit in ((rows[:half], True), (junk, False), (rows[half:], True)):
            producer.begin_transaction()
            for row in batch:
                producer.send(topic, orjson.dumps(row), key=row["service"].encode())
            if commit:
                producer.commit_transaction()
            else:
                producer.flush()
                producer.abort_transaction()
    finally:
        producer.close()


def _total_events(store: Store) -> int:
    query = parse_query({"queryType": "timeseries", "interval": WHOLE, "metrics": ["events"]})
    try:
        return int(store.query(query)[0]["events"])
    except StoreError:  # the datasource does not exist until the first rows are handed in
        return -1


@pytest.fixture(scope="module")
def ingested(
    druid_stack: Settings, rows: list[dict[str, Any]], events: list[Any]
) -> Iterator[Settings]:
    """Settings naming a fresh topic and datasource that hold ``rows`` (via Kafka)."""
    tag = uuid.uuid4().hex[:8]
    settings = replace(druid_stack, topic_metrics=f"test.metrics.{tag}", datasource=f"test_{tag}")
    kafka, kafka_at = _kafka(), druid.kafka_bootstrap(settings)
    admin = kafka.admin.KafkaAdminClient(bootstrap_servers=kafka_at)
    admin.create_topics([kafka.admin.NewTopic(settings.topic_metrics, 3, 1)])
    junk = [{**row, "events": row["events"] * 1000} for row in rows[:500]]
    _produce(kafka_at, settings.topic_metrics, rows, junk)
    druid.submit_supervisor(settings)
    store = DruidStore("127.0.0.1:8888", settings.datasource)
    deadline = time.monotonic() + INGEST_DEADLINE
    total = _total_events(store)
    while total != len(events):  # polls Druid until every committed row is visible
        assert total < len(events), f"Druid counts {total} events, more than {len(events)}"
        assert time.monotonic() < deadline, (
            f"Druid holds {total} of {len(events)} events after {INGEST_DEADLINE:.0f} s; "
            f"{druid.status(settings)}"
        )
        time.sleep(0.5)
        total = _total_events(store)
    yield settings
    druid.terminate_supervisor(settings)
    druid.drop_datasource(settings)
    admin.delete_topics([settings.topic_metrics])
    admin.close()


@pytest.fixture(scope="module")
def loaded_store(ingested: Settings) -> Iterator[Store]:
    """Overrides conftest's: the contract tests collected above query Druid."""
    store = open_store(f"druid://127.0.0.1:8888/{ingested.datasource}")
    yield store
    store.close()


@pytest.fixture(scope="module")
def duck(rows: list[dict[str, Any]]) -> Iterator[Store]:
    store = open_store("duckdb://:memory:")
    store.write(rows)
    yield store
    store.close()


# -- exactly-once --------------------------------------------------------------------------


def test_aborted_transaction_is_not_ingested(
    loaded_store: Store, events: list[Any], gt: Any
) -> None:
    """Druid reads read_committed: the 500 aborted rows (x1000 events) add nothing."""
    query = parse_query(
        {"queryType": "timeseries", "interval": WHOLE, "metrics": ["events", "errors", "bytes"]}
    )
    [row] = loaded_store.query(query)
    want = gt.truth(events, *_contract.bounds(WHOLE), "all")
    [group] = want.values()
    assert (row["events"], row["errors"], row["bytes"]) == (group.events, group.errors, group.bytes)


# -- parity with DuckDB ---------------------------------------------------------------------


def _parity_queries() -> list[dict[str, Any]]:
    every = _contract.ALL_METRICS
    out: list[dict[str, Any]] = []
    for granularity in ("minute", "hour", "day", "all"):
        for flt in FILTERS:
            body: dict[str, Any] = {
                "queryType": "timeseries",
                "interval": PART,
                "granularity": granularity,
                "metrics": every,
            }
            if flt:
                body["filter"] = flt
            out.append(body)
        out.append(
            {
                "queryType": "groupBy",
                "interval": PART,
                "granularity": granularity,
                "dimensions": ["service", "status_class"],
                "filter": {"method": ["GET", "POST"]},
                "metrics": every,
            }
        )
        out.append(
            {
                "queryType": "topN",
                "interval": WHOLE,
                "granularity": granularity if granularity != "minute" else "hour",
                "dimension": "route",
                "metric": "events",
                "threshold": 5,
                "filter": {"service": "web"},
                "metrics": every,
            }
        )
    return out


@pytest.mark.parametrize("body", _parity_queries(), ids=lambda b: f"{b['queryType']}")
def test_parity_with_duckdb(
    loaded_store: Store, duck: Store, events: list[Any], gt: Any, body: dict[str, Any]
) -> None:
    query = parse_query(body)
    on_druid, on_duck = loaded_store.query(query), duck.query(query)
    dims = query.group_dimensions
    assert [(r["timestamp"], *(r[d] for d in dims)) for r in on_druid] == [
        (r["timestamp"], *(r[d] for d in dims)) for r in on_duck
    ]
    assert len(on_druid) > 0
    want = gt.truth(events, query.start, query.end, query.granularity, dims, body.get("filter"))
    for a, b in zip(on_druid, on_duck, strict=True):
        assert set(a) == set(b)
        group = want.get((a["timestamp"], *(a[d] for d in dims)), gt.Group())
        for metric in query.metrics:
            x, y = a[metric], b[metric]
            if metric.startswith("latency_p") or metric == "unique_users":
                gt.check_metric(metric, x, group)  # each within the sketch error of
                gt.check_metric(metric, y, group)  # the truth, so of each other
            elif isinstance(y, float):
                assert x == pytest.approx(y, rel=1e-9), metric
            else:
                assert x == y and type(x) is type(y), metric


# -- edges ------------------------------------------------------------------------------------


def test_a_query_past_its_timeout_is_stopped_by_druid_itself(ingested: Settings) -> None:
    """The timeout goes to Druid in the query's context: Druid stops the query and says
    so, and the store turns that into QueryTimeout (HTTP 408), not a generic error."""
    body = {
        "queryType": "groupBy",
        "interval": WHOLE,
        "granularity": "minute",
        "dimensions": ["service", "route", "status"],
        "metrics": ["events", "latency_p95", "unique_users"],
    }
    quick = DruidStore("127.0.0.1:8888", ingested.datasource, timeout=0.001)
    with pytest.raises(QueryTimeout, match=r"Druid stopped the query after 0\.001 s"):
        quick.query(parse_query(body))
    # with the default timeout the same work over the whole interval is answered (one
    # bucket: by minute it would be more rows than the row limit allows)
    whole = parse_query({**body, "granularity": "all"})
    assert DruidStore("127.0.0.1:8888", ingested.datasource).query(whole)


def test_time_boundary_of_an_unknown_datasource_is_none(druid_stack: Settings) -> None:
    assert DruidStore("127.0.0.1:8888", f"no_such_{uuid.uuid4().hex[:6]}").time_boundary() is None


def test_supervisor_spec_is_the_generated_one(ingested: Settings) -> None:
    """What the overlord runs is exactly squall.druid_spec's spec for the schema."""
    import httpx

    from squall.druid_spec import supervisor_spec

    got = httpx.get(
        f"{druid.OVERLORD_URL}/druid/indexer/v1/supervisor/{ingested.datasource}", timeout=10
    ).json()
    want = supervisor_spec(
        ingested.topic_metrics, druid.kafka_bootstrap(ingested), ingested.datasource
    )
    schema, wanted = got["spec"]["dataSchema"], want["spec"]["dataSchema"]
    assert [d["name"] for d in schema["dimensionsSpec"]["dimensions"]] == [
        d["name"] for d in wanted["dimensionsSpec"]["dimensions"]
    ]
    # Druid echoes each aggregator with its defaults filled in (e.g. maxStreamLength)
    assert len(schema["metricsSpec"]) == len(wanted["metricsSpec"])
    for running, generated in zip(schema["metricsSpec"], wanted["metricsSpec"], strict=True):
        assert {k: running.get(k) for k in generated if k != "round"} == {
            k: v for k, v in generated.items() if k != "round"
        }
    assert schema["granularitySpec"]["queryGranularity"] == "MINUTE"
    assert schema["granularitySpec"]["rollup"] is True
    assert schema["timestampSpec"]["column"] == wanted["timestampSpec"]["column"]
    assert got["spec"]["ioConfig"]["consumerProperties"]["isolation.level"] == "read_committed"
