"""Search parity on the real local Druid: the same events, sent through Kafka to Druid's
``log_events`` supervisor and loaded into DuckDB, give the same pages (events, order and
cursors) for the same searches, paged to the end. DuckDB itself is checked against
ground truth from the input in test_search.py.

The events are tests/data/apache_logs (many per second: the order within a millisecond is
exercised) and generated JSON events (latencies, users); they reach Kafka as the topology
sends them (its encoder), half of them behind an aborted transaction's junk, which Druid's
read_committed supervisor must not ingest. The test has its own topic and datasource.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from squall.broker import open_broker
from squall.compute.topologies.log_metrics.events import EventEncoder
from squall.compute.topologies.log_metrics.parse import ParsedEvent, parse_event
from squall.deploy.stack import druid
from squall.druid_spec import retention_rules
from squall.serve.druid_events import DruidEvents
from squall.serve.event_loader import decode_events
from squall.serve.exceptions import QueryTimeout
from squall.serve.search import EventRow, EventStore, parse_search, search_page
from squall.serve.store import open_store
from squall.settings import Settings
from squall.traffic import generate_events

pytestmark = [pytest.mark.druid, pytest.mark.timeout(900)]

ALL_TIME = "2015-01-01T00:00:00Z/2030-01-01T00:00:00Z"
INGEST_DEADLINE = 300.0


def _records(lines: list[str]) -> list[tuple[bytes, bytes]]:
    rng = random.Random(3)
    encoder = EventEncoder()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    bodies = [("web", line) for line in lines]
    bodies += [("api", orjson_line(e)) for e in generate_events(3000, seed=4, start=start)]
    for i, (service, body) in enumerate(bodies):
        headers = {"service": service, "id": str(uuid.UUID(int=rng.getrandbits(128)))}
        if i % 2:
            headers["host"] = f"collector-{i % 3}"
        parsed = parse_event(headers, body)
        assert isinstance(parsed, ParsedEvent), body
        encoder.add(parsed, headers, headers["id"], body)
    return encoder.drain()


def orjson_line(event: dict[str, object]) -> str:
    import orjson

    return orjson.dumps(event).decode()


def _count(store: EventStore) -> int:
    total, query = 0, parse_search({"interval": ALL_TIME, "limit": 10_000})
    while True:
        page = search_page(store, query)
        total += len(page["events"])
        if page["next"] is None:
            return total
        query = replace(query, after=_after(page["next"]))


def _after(cursor: str) -> tuple[int, str]:
    return parse_search({"interval": ALL_TIME, "cursor": cursor}).after  # type: ignore[return-value]


@pytest.fixture(scope="module")
def stores(druid_stack: Settings, apache_log_lines: list[str]) -> Iterator[dict[str, EventStore]]:
    tag = uuid.uuid4().hex[:8]
    settings = replace(
        druid_stack,
        topic_events=f"test.events.{tag}",
        events_datasource=f"test_events_{tag}",
        events_retention_days=0,
    )
    records = _records(apache_log_lines)
    rows: list[EventRow] = []
    for _key, value in records:
        rows.extend(decode_events(value)[0])
    with open_broker(settings.broker_url) as broker:
        broker.create_topic(settings.topic_events, 3)
        producer = broker.producer(transactional_id=f"squall-test-{tag}")
        half = len(records) // 2
        junk = [(b"junk", value.replace(b'"line":"', b'"line":"JUNK ')) for _k, value in records]
        for batch, commit in ((records[:half], True), (junk[:50], False), (records[half:], True)):
            producer.begin_transaction()
            for key, value in batch:
                producer.send(settings.topic_events, value, key=key)
            if commit:
                producer.commit_transaction()
            else:
                producer.abort_transaction()
        producer.close()
    druid.submit_events_supervisor(settings)
    on_druid = DruidEvents("http://127.0.0.1:8888", settings.events_datasource)
    duck = open_store("duckdb://:memory:")
    assert duck.events is not None
    duck.events.write_with_offsets(rows, settings.topic_events, {0: 1})
    try:
        deadline = time.monotonic() + INGEST_DEADLINE
        total = _count(on_druid)
        while total != len(rows):  # polls Druid until every committed event is visible
            assert total < len(rows), f"Druid holds {total} events, more than {len(rows)}"
            assert time.monotonic() < deadline, (
                f"Druid holds {total} of {len(rows)} events after {INGEST_DEADLINE:.0f} s; "
                f"{druid.status(settings)}"
            )
            time.sleep(1.0)
            total = _count(on_druid)
        yield {"duckdb": duck.events, "druid": on_druid, "settings": settings}  # type: ignore[dict-item]
    finally:
        druid.terminate_supervisor(settings, settings.events_datasource)
        druid.drop_datasource(settings, settings.events_datasource)
        on_druid.close()
        duck.close()


SEARCHES: list[dict[str, Any]] = [
    {"interval": ALL_TIME},
    {"interval": ALL_TIME, "filter": {"status_class": ["4xx", "5xx"]}, "contains": "MoZiLLa"},
    {
        "interval": "2015-05-18T00:00:00Z/2015-05-19T00:00:00Z",
        "filter": {"status": [200, "304", "x"], "method": "GET"},
        "regex": r"GET /images/\S+\.png",
    },
    {"interval": "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z", "filter": {"service": "api"}},
    {"interval": ALL_TIME, "filter": {"status": "x"}},
    {"interval": ALL_TIME, "contains": "JUNK"},
]


@pytest.mark.parametrize("limit", [10_000, 37])
@pytest.mark.parametrize("body", SEARCHES, ids=[str(i) for i in range(len(SEARCHES))])
def test_druid_pages_equal_duckdb_pages_to_the_end(
    stores: dict[str, EventStore], body: dict[str, Any], limit: int
) -> None:
    pages: dict[str, list[dict[str, Any]]] = {}
    for kind in ("duckdb", "druid"):
        query = parse_search({**body, "limit": limit})
        out = pages[kind] = []
        for _ in range(1000):
            page = search_page(stores[kind], query)
            out.append(page)
            if page["next"] is None:
                break
            query = replace(query, after=_after(page["next"]))
    assert pages["druid"] == pages["duckdb"]
    if body.get("contains") != "JUNK" and "x" not in str(body.get("filter", {}).get("status")):
        assert pages["duckdb"][0]["events"], "the search must find something"


def test_a_search_past_its_timeout_is_stopped_by_druid_itself(
    stores: dict[str, Any],
) -> None:
    settings: Settings = stores["settings"]
    query = parse_search({"interval": ALL_TIME, "regex": r"(Mozilla|Safari)/\d+"})
    quick = DruidEvents("http://127.0.0.1:8888", settings.events_datasource, timeout=0.001)
    try:
        with pytest.raises(QueryTimeout, match=r"Druid stopped the search after 0\.001 s"):
            quick.search(query)
    finally:
        quick.close()
    assert stores["druid"].search(query), "the same search with the default timeout answers"


def test_the_retention_rule_is_set_on_the_datasource(stores: dict[str, Any]) -> None:
    settings: Settings = stores["settings"]
    url = f"http://127.0.0.1:8081/druid/coordinator/v1/rules/{settings.events_datasource}"

    def rules() -> list[dict[str, Any]]:
        found = httpx.get(url, timeout=30).json()
        return [{k: v for k, v in r.items() if k != "useDefaultTierForNull"} for r in found]

    assert rules() == retention_rules(0)  # 0: keep everything, as the test submitted
    week = replace(settings, events_retention_days=7)
    druid.submit_events_supervisor(week)  # resubmitting is how a retention is changed
    assert rules() == retention_rules(7)
    assert [r["type"] for r in rules()] == ["loadByPeriod", "dropForever"]
