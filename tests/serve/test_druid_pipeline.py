"""The whole pipeline into real Druid: collector and topology as ``squall`` processes on a
real Kafka, Druid's supervisor ingesting ``logs.metrics``, answers read with the Druid
store, checked against ground truth computed here from the input.

* Exactly-once: the topology's worker, then Druid's worker (the indexer running the
  Kafka ingestion task) are killed with SIGKILL mid-run and started again; Druid's
  totals still equal the input (the topology writes rows and offsets in one Kafka
  transaction; Druid reads read_committed and publishes its Kafka offsets atomically
  with its segments, so the new task resumes from the last published offsets).
* Freshness: then an event posted to the collector becomes visible in a Druid query
  (how soon is measured by ``python -m bench druid``, not asserted here).

The test gets its own topics and datasource, so it neither sees nor disturbs others.
One pipeline serves both checks: starting one costs tens of seconds on 2 cores.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from squall.broker import ensure_topics, open_broker
from squall.deploy.stack import druid, process
from squall.processes import ProcessGroup, child_env
from squall.serve.druid_store import DruidStore
from squall.serve.exceptions import StoreError
from squall.serve.query import parse_query
from squall.settings import Settings
from squall.traffic import generate_events

pytestmark = [pytest.mark.druid, pytest.mark.timeout(900)]

ALL_TIME = "2015-01-01T00:00:00Z/2030-01-01T00:00:00Z"
DEADLINE = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what()}"
        time.sleep(0.2)


class DruidPipeline:
    """Collector + topology on Kafka, into a Druid datasource of this test's own."""

    def __init__(self, stack: Settings, data_dir: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.settings = replace(
            stack,
            data_dir=data_dir,
            topic_raw=f"test.raw.{tag}",
            topic_metrics=f"test.metrics.{tag}",
            topic_deadletter=f"test.dead.{tag}",
            datasource=f"pipeline_{tag}",
        )
        s = self.settings
        with open_broker(s.broker_url) as broker:
            ensure_topics(broker, s)
        druid.submit_supervisor(s)
        port = _free_port()
        env = child_env(
            data_dir=str(data_dir),
            broker=s.broker_url,
            collector_port=str(port),
            topic_raw=s.topic_raw,
            topic_metrics=s.topic_metrics,
            topic_deadletter=s.topic_deadletter,
            group_prefix=f"squall-test-{tag}",  # a consumer group of its own
        )
        self.parts = ProcessGroup(env, data_dir / "logs")
        self.collector = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(timeout=30.0)
        self.store = DruidStore("127.0.0.1:8888", s.datasource)

    def start(self, name: str) -> None:
        self.parts.start(name)
        if name == "collector":
            self.parts.wait_http(name, f"{self.collector}/healthz")

    def post(self, events: list[dict[str, Any]]) -> None:
        for i in range(0, len(events), 1000):
            body = b"".join(orjson.dumps(e) + b"\n" for e in events[i : i + 1000])
            r = self.http.post(
                f"{self.collector}/v1/logs",
                content=body,
                headers={"content-type": "application/x-ndjson"},
            )
            assert r.status_code == 200, r.text

    def query(self, **body: Any) -> list[dict[str, Any]]:
        body.setdefault("interval", ALL_TIME)
        try:
            return self.store.query(parse_query(body))
        except StoreError:  # the datasource appears with its first rows
            return []

    def total(self) -> int:
        self.parts.check()
        rows = self.query(queryType="timeseries", metrics=["events"])
        return int(rows[0]["events"]) if rows else 0

    def close(self) -> None:
        self.parts.stop()
        self.http.close()
        druid.terminate_supervisor(self.settings)
        druid.drop_datasource(self.settings)


@pytest.fixture
def pipeline(druid_stack: Settings, tmp_path: Path) -> Iterator[DruidPipeline]:
    p = DruidPipeline(druid_stack, tmp_path)
    try:
        p.start("collector")
        p.start("topology")
        yield p
    finally:
        p.close()


def _events(count: int, seed: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return list(generate_events(count=count, seed=seed, start=start, rate=200.0))


def _kill_9_the_indexer(stack: Settings) -> None:
    """SIGKILL Druid's indexer (the worker running the Kafka ingestion task)."""
    indexer = next(svc for svc in druid.services(stack) if svc.name == "druid-indexer")
    pid = process.running_pid(indexer)
    assert pid is not None, "the Druid indexer is not running"
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: process.running_pid(indexer) is None, 30, lambda: "the indexer to die")


def test_kill_9_of_the_workers_mid_run_gives_exact_druid_totals_then_fresh_events_show(
    pipeline: DruidPipeline, druid_stack: Settings
) -> None:
    events = _events(30_000, seed=5)
    truth = Counter((str(e["service"]), str(e["status"])) for e in events)
    bytes_truth: Counter[str] = Counter()
    for e in events:
        bytes_truth[str(e["service"])] += int(e["bytes"])

    pipeline.post(events[:10_000])
    wait_for(lambda: pipeline.total() > 0, DEADLINE, lambda: "the first rows in Druid")
    pipeline.post(events[10_000:15_000])
    pipeline.parts.kill("topology")  # kill -9 of the compute worker mid-run ...
    pipeline.start("topology")  # ... which resumes from its committed Kafka offsets
    pipeline.post(events[15_000:20_000])
    _kill_9_the_indexer(druid_stack)  # mid-run: rows read but not yet published are lost
    pipeline.post(events[20_000:])
    druid.up(druid_stack, supervisor=False)  # starts the indexer again; Druid re-reads Kafka
    seen: list[int] = []

    def all_in() -> bool:
        seen.append(pipeline.total())
        return seen[-1] >= len(events)

    wait_for(all_in, DEADLINE, lambda: f"{len(events)} events in Druid (last {seen[-3:]})")
    assert seen[-1] == len(events)  # nothing counted twice
    rows = pipeline.query(
        queryType="groupBy", dimensions=["service", "status"], metrics=["events", "bytes"]
    )
    assert {(r["service"], r["status"]): r["events"] for r in rows} == dict(truth)
    per_service: Counter[str] = Counter()
    for r in rows:
        per_service[r["service"]] += r["bytes"]
    assert per_service == bytes_truth

    # freshness: one more event, posted now, becomes visible (the pipeline is warm)
    event = {"ts": "2026-01-02T00:00:00Z", "service": "fresh", "path": "/f", "status": 200}
    pipeline.post([event])

    def visible() -> bool:
        rows = pipeline.query(
            queryType="timeseries", metrics=["events"], filter={"service": "fresh"}
        )
        return bool(rows) and rows[0]["events"] == 1

    wait_for(visible, DEADLINE, lambda: "the fresh event in Druid")
