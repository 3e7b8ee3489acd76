"""The sink runner: drains the channel into a sink in batches, never dropping.

Loop (one thread)::

    1. make sure the sink is started (retry with backoff until it is)
    2. open a take transaction, take up to ``batch_size`` events (wait if none)
    3. sink.process(batch); then commit the take
    4. on any failure: roll the take back (the events return to the channel's head),
       restart the sink, back off exponentially (``backoff_initial`` .. ``backoff_max``)

While the sink fails the channel fills, the source answers 503, and once the sink is
back the same loop drains the backlog: recovery needs nobody.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from squall.ingest.channels.base import Channel
from squall.ingest.metrics import IngestMetrics
from squall.ingest.sinks.base import Sink

__all__ = ["SinkRunner"]

log = logging.getLogger(__name__)


class SinkRunner:
    """Moves events from ``channel`` to ``sink`` on a background thread."""

    def __init__(
        self,
        channel: Channel,
        sink: Sink,
        batch_size: int = 1000,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        metrics: IngestMetrics | None = None,
    ) -> None:
        self.channel = channel
        self.sink = sink
        self.batch_size = batch_size
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.metrics = metrics
        self.delivered = 0
        self.errors = 0
        self.last_error: str | None = None
        self._failing_since: float | None = None
        self._started = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"sink-{self.sink.name}", daemon=True
        )
        self._thread.start()

    def stop(self, drain_timeout: float = 0.0) -> None:
        """Stop after the current batch; first wait up to ``drain_timeout`` s for the
        channel to empty (useful for the memory channel, whose events die with us)."""
        deadline = time.monotonic() + drain_timeout
        while drain_timeout and time.monotonic() < deadline and self.channel.stats().events:
            self._stop.wait(0.05)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def status(self) -> dict[str, Any]:
        return {
            "type": self.sink.name,
            "running": self._thread is not None and self._thread.is_alive(),
            "delivered": self.delivered,
            "errors": self.errors,
            "last_error": self.last_error,
            "failing_for_seconds": (
                None
                if self._failing_since is None
                else round(time.monotonic() - self._failing_since, 3)
            ),
        }

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._stop_sink()  # on this thread: sinks may hold thread-bound connections

    def _stop_sink(self) -> None:
        if self._started:
            self._started = False
            try:
                self.sink.stop()
            except Exception:  # a failing sink may fail to stop too; start() will retry
                log.warning("sink %s failed to stop", self.sink.name, exc_info=True)

    def _loop(self) -> None:
        backoff = self.backoff_initial
        while not self._stop.is_set():
            try:
                if not self._started:
                    self.sink.start()
                    self._started = True
                if not self._deliver_one():
                    self.channel.wait(0.2)
                    continue
            except Exception as exc:  # any sink failure: roll back, back off, retry
                self._failed(exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            backoff = self.backoff_initial
            if self._failing_since is not None:
                log.info("sink %s recovered", self.sink.name)
                self._failing_since = None
                self.last_error = None

    def _deliver_one(self) -> bool:
        """One batch; False if the channel was empty."""
        with self.channel.transaction() as tx:
            events = tx.take(self.batch_size)
            if not events:
                return False
            self.sink.process(events)
            tx.commit()
        self.delivered += len(events)
        if self.metrics is not None:
            self.metrics.sink_events.inc(len(events))
        return True

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.metrics is not None:
            self.metrics.sink_errors.inc()
        if self._failing_since is None:  # log once per outage, not per retry
            self._failing_since = time.monotonic()
            log.warning("sink %s failed, retrying with backoff: %s", self.sink.name, exc)
        self._stop_sink()
