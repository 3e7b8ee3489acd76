"""Workers publish their metrics, as Storm's metrics consumer does: every few seconds a
worker sends one snapshot of its components' ``ComponentMetrics`` to the workers topic
(``logs.workers``), so a monitor anywhere (``squall status``, the pipeline page) sees
every worker of the topology, on the embedded log and on Kafka alike.

A snapshot is one JSON object::

    {"topology": "log-metrics", "worker": 0, "host": "...", "pid": 123,
     "time_ms": 1764680000000, "uptime_s": 12.5, "interval_s": 5.0,
     "components": [{"component": "parse", "tasks": 2, "emitted": ..., ...}]}

``components`` holds every field of ``ComponentMetrics``: totals since the worker (re)started.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import orjson

from squall.broker import Producer
from squall.compute.metrics import ComponentMetrics

__all__ = ["MetricsReporter", "snapshot"]

log = logging.getLogger(__name__)


def snapshot(
    topology: str,
    worker: int,
    metrics: Mapping[str, ComponentMetrics],
    uptime_s: float,
    interval_s: float,
) -> dict[str, Any]:
    """The JSON object a worker publishes (see the module docstring)."""
    return {
        "topology": topology,
        "worker": worker,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "time_ms": int(time.time() * 1000),
        "uptime_s": round(uptime_s, 3),
        "interval_s": interval_s,
        "components": [asdict(m) for m in metrics.values()],
    }


class MetricsReporter:
    """Sends a snapshot to ``topic`` when ``interval`` seconds have passed since the last.

    ``due_report`` is called from the worker's supervising loop; a failed send is logged
    and retried at the next interval, never raised: monitoring must not stop a worker.
    """

    def __init__(
        self,
        producer: Producer,
        topic: str,
        topology: str,
        worker: int,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.producer, self.topic, self.topology, self.worker = producer, topic, topology, worker
        self.interval = interval
        self._clock = clock
        self._started = clock()
        self._last: float | None = None
        self.sent = 0

    def due_report(self, metrics: Callable[[], Mapping[str, ComponentMetrics]]) -> bool:
        """Send a snapshot of ``metrics()`` if one is due; True if one was sent."""
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        body = snapshot(self.topology, self.worker, metrics(), now - self._started, self.interval)
        try:
            self.producer.send(self.topic, orjson.dumps(body), key=str(self.worker).encode())
            self.producer.flush()
        except Exception as exc:  # the broker is down, say: the next interval tries again
            log.warning("worker metrics not published to %s: %s", self.topic, exc)
            return False
        self.sent += 1
        return True
