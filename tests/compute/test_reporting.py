"""Workers publish their metrics to the workers topic (compute.reporting)."""

from __future__ import annotations

import os
from typing import Any

import orjson

from squall.compute.metrics import ComponentMetrics
from squall.compute.reporting import MetricsReporter


class Recorder:
    """A producer that keeps what it is sent; ``fail`` makes sends raise."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.flushes = 0
        self.fail = False

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((topic, value, key))

    def flush(self) -> None:
        self.flushes += 1


def metrics() -> dict[str, ComponentMetrics]:
    return {
        "events": ComponentMetrics("events", 1, emitted=10, acked=9, failed=1),
        "parse": ComponentMetrics("parse", 2, emitted=10, executed=10, capacity=0.25),
    }


def test_a_snapshot_every_interval_with_every_field() -> None:
    now = [100.0]
    producer = Recorder()
    reporter = MetricsReporter(
        producer,  # type: ignore[arg-type]
        "logs.workers",
        "log-metrics",
        3,
        interval=5.0,
        clock=lambda: now[0],
    )
    assert reporter.due_report(metrics)  # the first at once
    now[0] += 4.9
    assert not reporter.due_report(metrics)
    now[0] += 0.1
    assert reporter.due_report(metrics)
    assert reporter.sent == 2 and producer.flushes == 2
    topic, value, key = producer.sent[-1]
    assert topic == "logs.workers" and key == b"3"
    snap: dict[str, Any] = orjson.loads(value)
    assert snap["topology"] == "log-metrics" and snap["worker"] == 3
    assert snap["pid"] == os.getpid() and snap["uptime_s"] == 5.0 and snap["interval_s"] == 5.0
    assert snap["components"][1] == {
        "component": "parse",
        "tasks": 2,
        "emitted": 10,
        "acked": 0,
        "failed": 0,
        "executed": 10,
        "execute_latency_ms": 0.0,
        "capacity": 0.25,
        "complete_latency_ms_p50": 0.0,
        "complete_latency_ms_p99": 0.0,
    }


def test_a_failed_send_is_not_raised_and_tried_again_next_interval() -> None:
    now = [0.0]
    producer = Recorder()
    producer.fail = True
    reporter = MetricsReporter(
        producer,  # type: ignore[arg-type]
        "logs.workers",
        "log-metrics",
        0,
        clock=lambda: now[0],
    )
    assert not reporter.due_report(metrics)
    producer.fail = False
    assert not reporter.due_report(metrics)  # not before the interval
    now[0] += 5.0
    assert reporter.due_report(metrics) and reporter.sent == 1
