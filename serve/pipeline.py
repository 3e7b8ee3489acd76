"""What Storm UI and Kafka's lag tools show operators, for ``squall status`` and the
pipeline page (``GET /pipeline``, ``GET /api/v1/pipeline``):

* per topology worker and component: tuples emitted / acked / failed, capacity, execute
  and complete latency, from the snapshots the workers publish to the workers topic
  (compute.reporting; a worker silent for three of its intervals is marked stale);
* consumer lag per partition of ``logs.raw`` for the topology's consumer group: the
  partition's end offset minus the group's committed offset, read from the broker
  without joining the group;
* the collector's accepted and rejected rates and its channel fill, from its Prometheus
  ``/metrics`` (rates between two reads: none on the first).

Every part reports its own failure (``"error"``) instead of failing the whole status:
the page is most needed when something is down.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from squall.broker import Broker, Consumer, TopicPartition
from squall.exceptions import SquallError
from squall.settings import Settings
from squall.tls import scheme

__all__ = ["CollectorScrape", "PipelineStatus", "WorkerTail", "topology_group"]

log = logging.getLogger(__name__)


def topology_group(settings: Settings, topology: str = "log-metrics") -> str:
    """The consumer group of a topology's workers (as compute's ``group`` names it)."""
    return f"{settings.group_prefix}-{topology}"


class WorkerTail:
    """A thread reading the workers topic, keeping each worker's latest snapshot.

    It reads as a group of its own (so every monitor sees every snapshot), from the
    start of the topic: ``caught_up`` is set once a poll finds nothing more.
    """

    def __init__(self, broker: Broker, topic: str, group_prefix: str) -> None:
        self.broker, self.topic = broker, topic
        self.group = f"{group_prefix}-status-{uuid.uuid4().hex[:12]}"
        self.caught_up = threading.Event()
        self.error: str | None = None
        self._latest: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-tail", daemon=True)

    def start(self) -> WorkerTail:
        self._thread.start()
        return self

    def _run(self) -> None:
        consumer: Consumer | None = None
        while not self._stop.is_set():
            try:
                if consumer is None:
                    consumer = self.broker.consumer(self.group, [self.topic])
                records = consumer.poll(max_records=500, timeout=0.5)
                self.error = None
            except SquallError as exc:
                self.error = f"cannot read {self.topic}: {exc}"
                self._stop.wait(1.0)
                continue
            if not records:
                self.caught_up.set()
            for record in records:
                self.add(record.value)
        if consumer is not None:
            try:
                consumer.close()
            except SquallError as exc:
                log.debug("closing the workers-topic consumer: %s", exc)

    def add(self, value: bytes) -> None:
        """Keep a snapshot if it is the newest of its worker; junk is skipped."""
        try:
            snap = orjson.loads(value)
            key = (str(snap["topology"]), str(snap["host"]), int(snap["worker"]))
            stamp = int(snap["time_ms"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("skipped a record of %s that is not a worker snapshot", self.topic)
            return
        with self._lock:
            held = self._latest.get(key)
            if held is None or int(held["time_ms"]) <= stamp:
                self._latest[key] = snap

    def latest(self, now_ms: int) -> list[dict[str, Any]]:
        """Every worker's newest snapshot, with ``age_s`` and ``stale``, in worker order."""
        with self._lock:
            snaps = [dict(s) for s in self._latest.values()]
        for s in snaps:
            s["age_s"] = max(0.0, (now_ms - int(s["time_ms"])) / 1000)
            s["stale"] = s["age_s"] > 3 * float(s.get("interval_s") or 5.0)
        return sorted(snaps, key=lambda s: (s["topology"], s["host"], s["worker"]))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


class CollectorScrape:
    """Reads a collector's ``/metrics``; rates come from the difference to the last read."""

    def __init__(
        self, url: str, clock: Callable[[], float] = time.monotonic, cafile: str = ""
    ) -> None:
        self.url = url.rstrip("/") + "/metrics"
        self._clock = clock
        self._last: tuple[float, float, float] | None = None  # time, accepted, rejected
        # a collector on TLS with Squall's own (self-signed) certificate: trust that one
        verify = ssl.create_default_context(cafile=cafile) if cafile else True
        self._http = httpx.Client(timeout=2.0, verify=verify)

    def read(self) -> dict[str, Any]:
        try:
            response = self._http.get(self.url)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            return {"url": self.url, "up": False, "error": f"{self.url}: {exc}"}
        totals: dict[str, float] = {}
        rejected: dict[str, float] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == "squall_ingest_rejected_requests_total":
                    reason = sample.labels.get("reason", "")
                    rejected[reason] = rejected.get(reason, 0.0) + sample.value
                else:
                    totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
        accepted = totals.get("squall_ingest_accepted_events_total", 0.0)
        rejected_total = sum(rejected.values())
        now = self._clock()
        rates: dict[str, float | None] = {"accepted_per_s": None, "rejected_per_s": None}
        if self._last is not None and now > self._last[0]:
            seconds = now - self._last[0]
            rates["accepted_per_s"] = (accepted - self._last[1]) / seconds
            rates["rejected_per_s"] = (rejected_total - self._last[2]) / seconds
        self._last = (now, accepted, rejected_total)
        events = totals.get("squall_ingest_channel_events", 0.0)
        capacity = totals.get("squall_ingest_channel_capacity_events", 0.0)
        return {
            "url": self.url,
            "up": True,
            "error": None,
            "accepted_events": int(accepted),
            "rejected_requests": {k: int(v) for k, v in sorted(rejected.items())},
            **rates,
            "channel_events": int(events),
            "channel_capacity_events": int(capacity),
            "channel_fill": events / capacity if capacity else None,
            "sink_lag_s": totals.get("squall_ingest_sink_lag_seconds"),
        }

    def close(self) -> None:
        self._http.close()


class PipelineStatus:
    """The three parts above, read together (``read``), for one broker and collector."""

    def __init__(
        self,
        broker: Broker,
        settings: Settings,
        collector_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.broker, self.settings = broker, settings
        self.group = topology_group(settings)
        self.workers = WorkerTail(broker, settings.topic_workers, settings.group_prefix)
        url = collector_url or (
            f"{scheme(settings)}://{settings.collector_host}:{settings.collector_port}"
        )
        self.collector = CollectorScrape(url, clock, settings.tls_certfile)

    def start(self) -> PipelineStatus:
        self.workers.start()
        return self

    def lag(self) -> dict[str, Any]:
        topic = self.settings.topic_raw
        try:
            tps = [TopicPartition(topic, p) for p in range(self.broker.partitions(topic))]
            ends = self.broker.end_offsets(tps)
            partitions: list[dict[str, Any]] = []
            for tp in tps:
                committed = self.broker.committed(self.group, tp)
                end = ends[tp]
                partitions.append(
                    {
                        "partition": tp.partition,
                        "end": end,
                        "committed": committed,
                        "lag": end - (committed or 0),
                    }
                )
        except SquallError as exc:
            return {"topic": topic, "group": self.group, "error": str(exc), "partitions": []}
        total = sum(p["lag"] for p in partitions)
        return {
            "topic": topic,
            "group": self.group,
            "error": None,
            "partitions": partitions,
            "total": total,
        }

    def read(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        return {
            "time": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "workers": {
                "topic": self.settings.topic_workers,
                "error": self.workers.error,
                "snapshots": self.workers.latest(now_ms),
            },
            "lag": self.lag(),
            "collector": self.collector.read(),
        }

    def close(self) -> None:
        self.workers.stop()
        self.collector.close()
