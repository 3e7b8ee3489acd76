"""The broker contract: what ingest/, compute/ and serve/ may rely on.

Semantics follow Kafka's, so that code written against the local log behaves the same on
Kafka:

* a topic has a fixed number of partitions; a record's partition is chosen from its key
  with Kafka's murmur2 partitioner (or given explicitly), so keyed work stays
  partition-local on both backends;
* offsets are per partition, start at 0 and grow by one per record;
* ``Producer.flush()`` returns only once every record sent before it is durable;
* a transactional producer makes its records *and* the consumer offsets it sends with
  ``send_offsets_to_transaction`` visible atomically at ``commit_transaction``; readers
  only see committed records (read_committed);
* a consumer group member is assigned partitions; ``commit`` stores, per partition, the
  offset of the *next* record to read (Kafka's convention);
* rebalances follow Kafka's eager protocol (kafka-python's default): inside ``poll``,
  ``on_revoke`` gets every partition the member owned (commit what you processed there;
  ``close`` calls it too), then ``on_assign`` every partition it owns now, and each of
  those is read from the group's committed offset again (``seek`` in ``on_assign`` to
  override).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

__all__ = [
    "Broker",
    "Consumer",
    "Producer",
    "Record",
    "TopicPartition",
    "check_record",
    "no_such_partition",
]


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class Record(NamedTuple):
    """One record read from a topic. A named tuple (not a dataclass): consumers build
    one per record on the hot path, and a tuple is the cheapest immutable to build."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int


RebalanceCallback = Callable[[set[TopicPartition]], None]


def check_record(key: object, value: object) -> None:
    """What every ``Producer.send`` checks first: bytes in, or a TypeError that says so."""
    if type(value) is not bytes or (key is not None and type(key) is not bytes):
        raise TypeError(
            f"record key and value must be bytes, got key {type(key).__name__} and "
            f"value {type(value).__name__}; encode them first"
        )


def check_seek(assignment: set[TopicPartition], tp: TopicPartition, offset: int) -> None:
    """What every ``Consumer.seek`` checks first: a partition this member owns, an
    offset that can exist."""
    from squall.broker.exceptions import IllegalState

    if tp not in assignment:
        raise IllegalState(
            f"cannot seek {tp.topic}[{tp.partition}]: it is not assigned to this member "
            f"(assigned: {sorted(assignment)}); seek from on_assign or after poll()"
        )
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")


def no_such_partition(topic: str, partition: int, partitions: int) -> Exception:
    """The error for an explicit partition outside ``0..partitions-1``."""
    from squall.broker.exceptions import UnknownPartition

    return UnknownPartition(
        f"topic {topic!r} has partitions 0..{partitions - 1}; partition {partition} does not exist"
    )


class Producer(ABC):
    """Writes records to topics. Not thread-safe: one producer per thread."""

    @abstractmethod
    def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> None:
        """Queue one record; it is durable only after ``flush`` or ``commit_transaction``."""

    @abstractmethod
    def flush(self) -> None:
        """Block until every record sent so far is durable (acks=all)."""

    @abstractmethod
    def begin_transaction(self) -> None:
        """Start a transaction; needs a producer made with a ``transactional_id``."""

    @abstractmethod
    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group: str
    ) -> None:
        """Commit ``group``'s consumer offsets as part of the open transaction."""

    @abstractmethod
    def commit_transaction(self) -> None:
        """Make the transaction's records and offsets visible atomically."""

    @abstractmethod
    def abort_transaction(self) -> None:
        """Discard the transaction's records and offsets."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release resources."""


class Consumer(ABC):
    """A consumer-group member reading committed records. Not thread-safe."""

    @abstractmethod
    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records from the assigned partitions, waiting up to
        ``timeout`` seconds for the first one."""

    @abstractmethod
    def assignment(self) -> set[TopicPartition]:
        """The partitions this member owns now."""

    @abstractmethod
    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Store, per partition, the offset of the next record to read."""

    @abstractmethod
    def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset for ``tp``, or None if there is none."""

    @abstractmethod
    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` on the next poll (used to replay)."""

    @abstractmethod
    def close(self) -> None:
        """Leave the group; partitions go to the remaining members."""


class Broker(ABC):
    """A connection to one broker backend; a factory for producers and consumers."""

    url: str

    @abstractmethod
    def create_topic(self, topic: str, partitions: int) -> None:
        """Create ``topic`` if it does not exist (idempotent)."""

    @abstractmethod
    def partitions(self, topic: str) -> int:
        """The number of partitions of ``topic``; raises UnknownTopic."""

    @abstractmethod
    def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Per partition, the offset the next committed record will get."""

    @abstractmethod
    def committed(self, group: str, tp: TopicPartition) -> int | None:
        """``group``'s committed offset for ``tp`` (None if none), read without joining
        the group: for lag and progress monitoring."""

    @abstractmethod
    def producer(self, transactional_id: str | None = None) -> Producer:
        """A producer; transactional when given a ``transactional_id``."""

    @abstractmethod
    def consumer(
        self,
        group: str,
        topics: Iterable[str],
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ) -> Consumer:
        """A member of consumer group ``group`` subscribed to ``topics``.

        Without a committed offset a partition is read from its beginning."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
