"""Flume's memory channel: fast, bounded by events and bytes, lost on exit."""

from __future__ import annotations

import threading
import time
from collections import deque

from squall.ingest.channels.base import Channel, ChannelStats, Transaction
from squall.ingest.event import Event
from squall.ingest.exceptions import ChannelFull

__all__ = ["MemoryChannel"]


def _body_bytes(events: list[Event]) -> int:
    # Flume's byteCapacity counts event bodies; headers are small and bounded by limits.
    return sum(len(e["body"]) for e in events)


class _Record:
    __slots__ = ("events", "nbytes", "put_time")

    def __init__(self, events: list[Event], nbytes: int, put_time: float) -> None:
        self.events = events
        self.nbytes = nbytes
        self.put_time = put_time


class MemoryChannel(Channel):
    """Holds committed puts in a deque; capacity counts events not yet take-committed."""

    name = "memory"

    def __init__(
        self,
        capacity_events: int = 100_000,
        capacity_bytes: int = 100 * 2**20,
        retry_after: float = 1.0,
    ) -> None:
        self.capacity_events = capacity_events
        self.capacity_bytes = capacity_bytes
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._records: deque[_Record] = deque()
        self._inflight: set[_Record] = set()
        self._events = 0
        self._bytes = 0

    def transaction(self) -> Transaction:
        return _MemoryTransaction(self)

    def stats(self) -> ChannelStats:
        with self._lock:
            oldest = [r.put_time for r in self._inflight]
            if self._records:
                oldest.append(self._records[0].put_time)
            age = time.monotonic() - min(oldest) if oldest else 0.0
            return ChannelStats(
                self._events, self._bytes, self.capacity_events, self.capacity_bytes, age
            )

    def wait(self, timeout: float) -> bool:
        with self._ready:
            return self._ready.wait_for(lambda: bool(self._records), timeout)

    def close(self) -> None:
        pass

    # -- used by transactions ------------------------------------------------------
    def _put(self, events: list[Event]) -> None:
        nbytes = _body_bytes(events)
        with self._lock:
            if (
                self._events + len(events) > self.capacity_events
                or self._bytes + nbytes > self.capacity_bytes
            ):
                raise ChannelFull(
                    f"memory channel is full ({self._events} events, {self._bytes} bytes "
                    f"held); the sink is behind, retry after {self.retry_after:g}s",
                    self.retry_after,
                )
            self._events += len(events)
            self._bytes += nbytes
            self._records.append(_Record(events, nbytes, time.monotonic()))
            self._ready.notify_all()

    def _take(self, max_events: int) -> list[_Record]:
        taken: list[_Record] = []
        count = 0
        with self._lock:
            while self._records:
                n = len(self._records[0].events)
                if taken and count + n > max_events:
                    break
                rec = self._records.popleft()
                taken.append(rec)
                self._inflight.add(rec)
                count += n
        return taken

    def _finish(self, taken: list[_Record], delivered: bool) -> None:
        with self._lock:
            for rec in taken:
                self._inflight.discard(rec)
            if delivered:
                self._events -= sum(len(r.events) for r in taken)
                self._bytes -= sum(r.nbytes for r in taken)
            else:
                self._records.extendleft(reversed(taken))
                self._ready.notify_all()


class _MemoryTransaction(Transaction):
    def __init__(self, channel: MemoryChannel) -> None:
        super().__init__()
        self._channel = channel
        self._puts: list[Event] = []
        self._taken: list[_Record] = []

    def put(self, events: list[Event]) -> None:
        self._puts.extend(events)

    def take(self, max_events: int) -> list[Event]:
        records = self._channel._take(max_events)
        self._taken.extend(records)
        return [e for r in records for e in r.events]

    def commit(self) -> None:
        if self._puts:
            self._channel._put(self._puts)
        if self._taken:
            self._channel._finish(self._taken, delivered=True)
        self._puts, self._taken, self._done = [], [], True

    async def commit_async(self) -> None:
        self.commit()  # nothing to wait for: memory is as durable as this channel gets

    def rollback(self) -> None:
        if self._taken:
            self._channel._finish(self._taken, delivered=False)
        self._puts, self._taken, self._done = [], [], True
