"""The loader: tails ``logs.metrics`` into an ``OffsetStore``, exactly once.

The protocol, per batch:

1. ``poll`` records; drop any below the store's next offset for their partition (a
   redelivery of something already loaded);
2. decode the rows and write them *together with* each partition's next offset in one
   store transaction (``write_with_offsets``): rows and offsets are both there or
   neither is;
3. commit the same offsets to the broker's consumer group, best effort: it only serves
   lag monitoring, the store is the source of truth;
4. on (re)assignment, ``seek`` every partition to the store's offset (from the start if
   the store has none), so a crash between 2 and 3, or any redelivery, never loads a
   record twice, and a deleted store file is rebuilt from the topic.

A record that is not a valid aggregate row is counted and skipped (logged once per
``_WARN_EVERY`` seconds): a poison record must not stop the pipeline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import orjson

from squall.broker.base import Broker, Consumer, Record, TopicPartition
from squall.exceptions import RowFormatError, SquallError
from squall.rows import roll_up
from squall.serve.exceptions import ServeError
from squall.serve.search import EventStore
from squall.serve.store import OffsetStore

__all__ = ["DEFAULT_GROUP", "Loader"]

log = logging.getLogger(__name__)

DEFAULT_GROUP = "squall-serve-loader"
_WARN_EVERY = 30.0  # s between warnings about skipped records


class Loader:
    """Loads one topic into one store. ``step()`` is one batch; ``start()`` runs a thread.

    The consumer is created by the thread that first calls ``step`` (consumers are not
    thread-safe), so use either ``step`` from one thread or ``start``/``stop``.
    """

    def __init__(
        self,
        broker: Broker,
        store: OffsetStore | EventStore,
        topic: str = "logs.metrics",
        group: str = DEFAULT_GROUP,
        max_records: int = 5000,
        poll_timeout: float = 0.2,
        retry_delay: float = 1.0,
    ) -> None:
        self.broker = broker
        self.store = store
        self.topic = topic
        self.group = group
        self.max_records = max_records
        self.poll_timeout = poll_timeout
        self.retry_delay = retry_delay
        self.records_consumed = 0
        self.rows_loaded = 0
        self.rows_skipped = 0
        self.last_error: str | None = None
        self._consumer: Consumer | None = None
        self._next: dict[int, int] = {}  # partition -> next offset, as stored
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_warning = 0.0

    # -- one batch ---------------------------------------------------------------------

    def _ensure_consumer(self) -> Consumer:
        if self._consumer is None:
            self._next = self.store.offsets(self.topic)
            self._consumer = self.broker.consumer(
                self.group, [self.topic], on_assign=self._on_assign
            )
        return self._consumer

    def _on_assign(self, tps: set[TopicPartition]) -> None:
        self._next = self.store.offsets(self.topic)
        assert self._consumer is not None
        for tp in tps:
            if tp.topic == self.topic:
                self._consumer.seek(tp, self._next.get(tp.partition, 0))

    def step(self) -> int:
        """Poll once and load what came; returns the number of new records consumed."""
        consumer = self._ensure_consumer()
        records = consumer.poll(self.max_records, self.poll_timeout)
        if not records:
            return 0
        rows: list[Any] = []
        offsets: dict[int, int] = {}
        skipped = fresh = 0
        for record in records:
            if record.topic != self.topic or record.offset < self._next.get(record.partition, 0):
                continue
            fresh += 1
            offsets[record.partition] = record.offset + 1
            decoded = self._decode(record)
            if decoded is None:
                skipped += 1
            else:
                rows.extend(decoded)
        if not offsets:
            return 0
        loaded, bad = self._write(rows, offsets)
        skipped += bad
        self._next.update(offsets)
        self.records_consumed += fresh
        self.rows_loaded += loaded
        if skipped:
            self._skipped(skipped)
        try:
            consumer.commit({TopicPartition(self.topic, p): o for p, o in offsets.items()})
        except SquallError as exc:  # the store holds the truth; this is only for lag
            log.debug("committing loader offsets to the broker failed: %s", exc)
        return fresh

    def _write(self, rows: list[Any], offsets: dict[int, int]) -> tuple[int, int]:
        """Write the batch with its offsets; (rows written, rows skipped as invalid)."""
        try:
            self.store.write_with_offsets(rows, self.topic, offsets)
        except RowFormatError:
            good = [row for row in rows if self._valid(row)]
            self.store.write_with_offsets(good, self.topic, offsets)
            return len(good), len(rows) - len(good)
        return len(rows), 0

    def _decode(self, record: Record) -> list[Any] | None:
        try:
            value = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            return None
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list):
            return value
        return None

    @staticmethod
    def _valid(row: Any) -> bool:
        try:
            roll_up([row])
        except RowFormatError:
            return False
        return True

    def _skipped(self, count: int) -> None:
        self.rows_skipped += count
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            log.warning(
                "skipped %d records of %s that are not aggregate rows (%d in total)",
                count,
                self.topic,
                self.rows_skipped,
            )

    def _rewind(self) -> None:
        """After a failed batch: read every partition again from the store's offsets."""
        if self._consumer is None:
            return
        self._next = self.store.offsets(self.topic)
        for tp in self._consumer.assignment():
            if tp.topic == self.topic:
                self._consumer.seek(tp, self._next.get(tp.partition, 0))

    # -- background thread -------------------------------------------------------------

    def run(self) -> None:
        """Load until ``stop()``; failures are logged and retried after a pause."""
        try:
            while not self._stopping.is_set():
                try:
                    self.step()
                    self.last_error = None
                except Exception as exc:  # keep loading whatever went wrong: log, retry
                    self.last_error = str(exc)
                    if isinstance(exc, SquallError):
                        log.warning("loading %s failed, retrying: %s", self.topic, exc)
                    else:
                        log.exception("loading %s failed unexpectedly, retrying", self.topic)
                    self._stopping.wait(self.retry_delay)
                    try:
                        self._rewind()
                    except SquallError as again:
                        log.warning("rewinding the loader failed: %s", again)
        finally:
            self.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="squall-loader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise ServeError(f"the loader did not stop within {timeout} s")

    def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            try:
                consumer.close()
            except SquallError as exc:
                log.warning("closing the loader's consumer failed: %s", exc)

    # -- monitoring --------------------------------------------------------------------

    def lag(self) -> dict[int, int]:
        """Per partition with data: records in the topic not yet in the store."""
        try:
            ends = self.broker.end_offsets(
                TopicPartition(self.topic, p) for p in range(self.broker.partitions(self.topic))
            )
        except SquallError:
            return {}
        stored = self.store.offsets(self.topic)
        return {tp.partition: end - stored.get(tp.partition, 0) for tp, end in ends.items()}

    def stats(self) -> Mapping[str, Any]:
        """Counters for ``/healthz``."""
        lag = self.lag()
        return {
            "loader": {
                "topic": self.topic,
                "records_consumed": self.records_consumed,
                "rows_loaded": self.rows_loaded,
                "rows_skipped": self.rows_skipped,
                "lag": sum(lag.values()),
                "last_error": self.last_error,
            }
        }
