"""The pipeline's status (serve.pipeline): worker snapshots from the workers topic,
consumer lag from the broker's offsets, the collector's rates from its /metrics; the
API, ``squall status``'s text and the page that show them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from squall.broker import TopicPartition, ensure_topics
from squall.broker.local import LocalBroker
from squall.serve.app import create_app
from squall.serve.cli import format_status
from squall.serve.pipeline import CollectorScrape, PipelineStatus, topology_group
from squall.serve.store import Store
from squall.settings import Settings


def snapshot(worker: int, time_ms: int, emitted: int, host: str = "h1") -> bytes:
    return orjson.dumps(
        {
            "topology": "log-metrics",
            "worker": worker,
            "host": host,
            "pid": 1000 + worker,
            "time_ms": time_ms,
            "uptime_s": 60.0,
            "interval_s": 5.0,
            "components": [
                {
                    "component": "events",
                    "tasks": 1,
                    "emitted": emitted,
                    "acked": emitted,
                    "failed": 0,
                    "executed": 0,
                    "execute_latency_ms": 0.0,
                    "capacity": 0.0,
                    "complete_latency_ms_p50": 1.5,
                    "complete_latency_ms_p99": 9.5,
                }
            ],
        }
    )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    with LocalBroker(tmp_path / "log") as b:
        ensure_topics(b, Settings())
        yield b


class FakeCollector:
    """A /metrics endpoint with the collector's metric names, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter("squall_ingest_accepted_events", "accepted", registry=self.registry)
        self.rejected = Counter(
            "squall_ingest_rejected_requests", "rejected", ["reason"], registry=self.registry
        )
        self.depth = Gauge("squall_ingest_channel_events", "depth", registry=self.registry)
        self.capacity = Gauge(
            "squall_ingest_channel_capacity_events", "capacity", registry=self.registry
        )
        self.app = FastAPI()
        self.app.get("/metrics")(lambda: PlainTextResponse(generate_latest(self.registry).decode()))


def test_lag_per_partition_is_end_minus_committed(broker: LocalBroker) -> None:
    settings = Settings()
    producer = broker.producer()
    sent = {0: 7, 1: 3, 2: 0, 3: 12, 4: 1, 5: 5}
    for partition, n in sent.items():
        for i in range(n):
            producer.send(settings.topic_raw, b"x%d" % i, partition=partition)
    producer.flush()
    producer.close()
    group = topology_group(settings)
    consumer = broker.consumer(group, [settings.topic_raw])
    try:
        records = []
        while not records:
            records = consumer.poll(timeout=1.0)  # joins, then returns what is there
        consumer.commit(
            {TopicPartition(settings.topic_raw, 0): 5, TopicPartition(settings.topic_raw, 3): 12}
        )
    finally:
        consumer.close()
    status = PipelineStatus(broker, settings, collector_url="http://127.0.0.1:9")
    try:
        lag = status.lag()
    finally:
        status.close()
    assert lag["group"] == "squall-log-metrics" and lag["error"] is None
    assert [(p["partition"], p["end"], p["committed"], p["lag"]) for p in lag["partitions"]] == [
        (0, 7, 5, 2),
        (1, 3, None, 3),
        (2, 0, None, 0),
        (3, 12, 12, 0),
        (4, 1, None, 1),
        (5, 5, None, 5),
    ]
    assert lag["total"] == 11


def test_latest_snapshot_per_worker_and_stale_ones_marked(broker: LocalBroker) -> None:
    settings = Settings()
    now_ms = int(time.time() * 1000)
    producer = broker.producer()
    for value in (
        snapshot(0, now_ms - 6000, emitted=100),
        snapshot(0, now_ms - 1000, emitted=250),  # newer: wins
        snapshot(1, now_ms - 60_000, emitted=40),  # silent for a minute: stale
        b"not a snapshot",
        snapshot(0, now_ms - 2000, emitted=200, host="h2"),  # another host's worker 0
    ):
        producer.send(settings.topic_workers, value)
    producer.flush()
    producer.close()
    status = PipelineStatus(broker, settings, collector_url="http://127.0.0.1:9").start()
    try:
        assert status.workers.caught_up.wait(timeout=30)
        snaps = status.read()["workers"]["snapshots"]
    finally:
        status.close()
    assert [(s["host"], s["worker"], s["components"][0]["emitted"], s["stale"]) for s in snaps] == [
        ("h1", 0, 250, False),
        ("h1", 1, 40, True),
        ("h2", 0, 200, False),
    ]


def test_collector_rates_between_two_reads(serve_http: Any) -> None:
    fake = FakeCollector()
    fake.accepted.inc(1000)
    fake.rejected.labels("too_large").inc(2)
    fake.capacity.set(10_000)
    fake.depth.set(2_500)
    now = [10.0]
    with serve_http(fake.app) as client:
        scrape = CollectorScrape(str(client.base_url), clock=lambda: now[0])
        try:
            first = scrape.read()
            fake.accepted.inc(500)
            fake.rejected.labels("malformed").inc(1)
            now[0] += 2.0
            second = scrape.read()
        finally:
            scrape.close()
    assert first["up"] and first["accepted_per_s"] is None  # no rate from one read
    assert second["accepted_events"] == 1500 and second["accepted_per_s"] == 250.0
    assert second["rejected_requests"] == {"malformed": 1, "too_large": 2}
    assert second["rejected_per_s"] == 0.5
    assert second["channel_fill"] == 0.25


def test_collector_down_is_reported_not_raised() -> None:
    scrape = CollectorScrape("http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        got = scrape.read()
    finally:
        scrape.close()
    assert got["up"] is False and "127.0.0.1:9/metrics" in got["error"]


def test_api_and_status_text(broker: LocalBroker, serve_http: Any, store: Store) -> None:
    settings = Settings()
    producer = broker.producer()
    producer.send(settings.topic_workers, snapshot(0, int(time.time() * 1000), emitted=1234))
    producer.send(settings.topic_raw, b"line", partition=2)
    producer.flush()
    producer.close()
    fake = FakeCollector()
    fake.accepted.inc(42)
    with serve_http(fake.app) as collector:
        status = PipelineStatus(broker, settings, collector_url=str(collector.base_url)).start()
        try:
            assert status.workers.caught_up.wait(timeout=30)
            with serve_http(create_app(store, pipeline=status.read)) as client:
                body = client.get("/api/v1/pipeline").json()
                assert client.get("/pipeline").status_code == 200
            text = format_status(status.read())
        finally:
            status.close()
    assert body["workers"]["snapshots"][0]["components"][0]["emitted"] == 1234
    assert body["lag"]["total"] == 1 and body["collector"]["accepted_events"] == 42
    assert "accepted 42 events" in text
    assert "consumer lag of squall-log-metrics on logs.raw: 1" in text
    assert "  logs.raw[2]  end 1  committed -  lag 1" in text
    assert "worker log-metrics #0 (h1, pid 1000)" in text
    assert "events" in text and "1,234" in text


def test_no_pipeline_no_status(serve_http: Any, store: Store) -> None:
    with serve_http(create_app(store)) as client:
        response = client.get("/api/v1/pipeline")
    assert response.status_code == 404 and "no pipeline" in response.json()["error"]
