"""The channel contract: Flume's transactional buffer between source and sink.

A source puts events in a transaction and commits; only a committed put is visible to
takers, and ``commit`` returns only once the events are as durable as the channel
promises (memory: in this process; file: fsynced). A sink takes in a transaction and
commits once the events are delivered; ``rollback`` returns taken events to the head
of the channel, so nothing is dropped. A transaction is all-or-nothing.

Takes are by whole *records* (one committed put each): ``take(n)`` returns records
while their total stays within ``n`` events, and always at least one record.

Threading: one event-loop thread puts (``commit_async``), sink-runner threads take;
every method is thread-safe. A transaction belongs to the thread that opened it.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from types import TracebackType

from squall.ingest.event import Event

__all__ = ["Channel", "ChannelStats", "Transaction"]


class ChannelStats:
    """A consistent snapshot of what the channel holds (committed, not yet taken+committed)."""

    __slots__ = ("bytes", "capacity_bytes", "capacity_events", "events", "oldest_age")

    def __init__(
        self,
        events: int,
        bytes: int,
        capacity_events: int,
        capacity_bytes: int,
        oldest_age: float,
    ) -> None:
        self.events = events
        self.bytes = bytes
        self.capacity_events = capacity_events
        self.capacity_bytes = capacity_bytes
        self.oldest_age = oldest_age


class Transaction(ABC):
    """A put or take transaction (not both). Use as a context manager: leaving the
    block without ``commit`` rolls back, as Flume's ``close`` does."""

    def __init__(self) -> None:
        self._done = False

    @abstractmethod
    def put(self, events: list[Event]) -> None:
        """Stage events; invisible until ``commit``."""

    @abstractmethod
    def take(self, max_events: int) -> list[Event]:
        """Take committed events from the head; [] if the channel is empty."""

    @abstractmethod
    def commit(self) -> None:
        """Make puts durable and visible (raises ChannelFull at capacity), or
        remove taken events for good."""

    async def commit_async(self) -> None:
        """``commit`` without blocking the event loop while the channel syncs."""
        await asyncio.to_thread(self.commit)

    @abstractmethod
    def rollback(self) -> None:
        """Discard staged puts, or return taken events to the head of the channel."""

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.rollback()


class Channel(ABC):
    """A bounded buffer of events with transactions; see the module docstring."""

    name: str = "channel"

    @abstractmethod
    def transaction(self) -> Transaction:
        """A new transaction."""

    @abstractmethod
    def stats(self) -> ChannelStats:
        """What the channel holds now."""

    @abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block until some committed event can be taken, or ``timeout``; True if one can."""

    @abstractmethod
    def close(self) -> None:
        """Release files; events not taken stay for the next open (file channel)."""
