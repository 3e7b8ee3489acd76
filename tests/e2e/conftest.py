"""The embedded pipeline as a user runs it: collector, topology and query API as
separate ``squall`` processes on free ports, talking only through HTTP and the log."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from squall.broker import open_broker
from squall.processes import ProcessGroup, child_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Pipeline:
    """Starts and stops the parts; posts events; queries."""

    def __init__(self, data_dir: Path, kafka: str | None = None, client: str = "") -> None:
        """Embedded broker by default; with ``kafka`` (HOST:PORT), real Kafka with topics
        and consumer groups of this pipeline's own, so runs never see each other, through
        kafka-python or, with ``client="confluent"``, confluent-kafka."""
        self.data_dir = data_dir
        self.collector_port = free_port()
        self.serve_port = free_port()
        settings = {
            "data_dir": str(data_dir),
            "collector_port": str(self.collector_port),
            "serve_port": str(self.serve_port),
            "events_retention_days": "0",  # the inputs are years old: keep every event
        }
        if kafka:
            run = uuid.uuid4().hex[:12]
            settings.update(
                broker=f"kafka://{kafka}" + (f"?client={client}" if client else ""),
                topic_raw=f"logs.raw.{run}",
                topic_metrics=f"logs.metrics.{run}",
                topic_deadletter=f"logs.deadletter.{run}",
                topic_workers=f"logs.workers.{run}",
                topic_events=f"logs.events.{run}",
                group_prefix=f"squall-test-{run}",
            )
        self.broker_url = settings.get("broker", f"local://{data_dir / 'log'}")
        self.topic_deadletter = settings.get("topic_deadletter", "logs.deadletter")
        env = child_env(**settings)
        self.parts = ProcessGroup(env, data_dir / "logs")
        self.collector = f"http://127.0.0.1:{self.collector_port}"
        self.serve = f"http://127.0.0.1:{self.serve_port}"
        self.http = httpx.Client(timeout=30.0)

    def start(self, name: str) -> None:
        self.parts.start(name)
        if name == "collector":
            self.parts.wait_http(name, f"{self.collector}/healthz")
        elif name == "serve":
            self.parts.wait_http(name, f"{self.serve}/healthz")

    def kill(self, name: str) -> None:
        """kill -9, as a crash would."""
        self.parts.kill(name)

    def stop(self) -> None:
        self.parts.stop()
        self.http.close()

    def post_lines(self, lines: list[str], service: str) -> None:
        for i in range(0, len(lines), 1000):
            body = ("\n".join(lines[i : i + 1000]) + "\n").encode()
            r = self.http.post(
                f"{self.collector}/v1/logs",
                params={"service": service},
                content=body,
                headers={"content-type": "text/plain"},
            )
            assert r.status_code == 200, r.text

    def post_events(self, events: list[dict[str, Any]]) -> None:
        for i in range(0, len(events), 1000):
            body = b"".join(orjson.dumps(e) + b"\n" for e in events[i : i + 1000])
            r = self.http.post(
                f"{self.collector}/v1/logs",
                content=body,
                headers={"content-type": "application/x-ndjson"},
            )
            assert r.status_code == 200, r.text

    def query(self, **body: Any) -> list[dict[str, Any]]:
        body.setdefault("interval", "2015-01-01T00:00:00Z/2030-01-01T00:00:00Z")
        body.setdefault("granularity", "all")
        r = self.http.post(f"{self.serve}/api/v1/query", json=body)
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()["rows"]
        return rows

    def search_all(self, **body: Any) -> list[dict[str, Any]]:
        """Every event a search finds, following its cursor to the end."""
        body.setdefault("interval", "2015-01-01T00:00:00Z/2030-01-01T00:00:00Z")
        body["limit"] = 10_000
        out: list[dict[str, Any]] = []
        while True:
            r = self.http.post(f"{self.serve}/api/v1/search", json=body)
            assert r.status_code == 200, r.text
            page = r.json()
            out.extend(page["events"])
            if page["next"] is None:
                return out
            body["cursor"] = page["next"]

    def total_events(self) -> int:
        return int(
            sum(r["events"] or 0 for r in self.query(queryType="timeseries", metrics=["events"]))
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every record of logs.deadletter, read by a fresh consumer group."""
        out: list[dict[str, Any]] = []
        with open_broker(self.broker_url) as broker:
            consumer = broker.consumer(f"test-{uuid.uuid4().hex}", [self.topic_deadletter])
            try:
                while True:
                    records = consumer.poll(max_records=1000, timeout=2.0)
                    if not records:
                        return out
                    out.extend(orjson.loads(r.value) for r in records)
            finally:
                consumer.close()


@pytest.fixture(
    params=[
        "local",
        pytest.param("kafka", marks=pytest.mark.kafka),
        pytest.param("confluent", marks=pytest.mark.kafka),
    ]
)
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pipeline]:
    """The pipeline on the embedded log, and on real Kafka through either client."""
    on_kafka = request.param in ("kafka", "confluent")
    kafka = request.getfixturevalue("kafka_bootstrap") if on_kafka else None
    p = Pipeline(tmp_path, kafka, "confluent" if request.param == "confluent" else "")
    try:
        for name in ("collector", "topology", "serve"):
            p.start(name)
        yield p
    finally:
        p.stop()
