"""Squall's consumer-group member on Kafka through confluent-kafka (librdkafka).

read_committed, no auto-commit, a partition without a committed offset is read from its
beginning, and the eager rebalance protocol (``range``): ``on_revoke`` gets the whole
old assignment, then ``on_assign`` the whole new one, as on the other backends.
librdkafka runs rebalance callbacks inside ``poll``/``close`` on the caller's thread,
so a callback may commit (the classic hand-over); an exception in one is kept and
raised from the ``poll`` or ``close`` that ran the rebalance, once it is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import confluent_kafka as ck

from squall.broker.base import RebalanceCallback, Record, TopicPartition
from squall.broker.confluent.errors import KafkaError, KafkaException, convert, error_of
from squall.broker.exceptions import IllegalState
from squall.broker.kafka.member import GroupMember

if TYPE_CHECKING:
    from squall.broker.confluent.broker import ConfluentBroker

__all__ = ["ConfluentMember"]

log = logging.getLogger("squall.broker.confluent")
_librdkafka_log = logging.getLogger("librdkafka")

_EOF = KafkaError._PARTITION_EOF


class ConfluentMember(GroupMember):
    """A member of consumer group ``group`` (see module docstring). Not thread-safe."""

    def __init__(
        self,
        broker: ConfluentBroker,
        group: str,
        topics: Iterable[str],
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ):
        topics = self._join_as(broker, group, topics, on_assign, on_revoke)
        self._closed = False
        self._assigning = False
        self._seeks: dict[TopicPartition, int] = {}  # asked for by on_assign
        o = broker.options
        self._consumer = ck.Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "client.id": o.client_id,
                "group.id": group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "partition.assignment.strategy": "range",
                "session.timeout.ms": o.session_timeout_ms,
                "heartbeat.interval.ms": o.heartbeat_interval_ms,
                "max.poll.interval.ms": o.max_poll_interval_ms,
                "fetch.wait.max.ms": o.fetch_max_wait_ms,
                # librdkafka waits 1 s (its default) before fetching again once its queue
                # is full; a fast consumer drains it long before that (bench peers)
                "fetch.queue.backoff.ms": 10,
                "reconnect.backoff.max.ms": o.reconnect_backoff_max_ms,
                "topic.metadata.refresh.interval.ms": o.metadata_max_age_ms,
                "socket.timeout.ms": o.request_timeout_ms,
                "logger": _librdkafka_log,
                "error_cb": _log_error,
            }
        )
        try:
            self._consumer.subscribe(
                topics, on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost_all
            )
        except KafkaException as exc:
            self._consumer.close()
            raise convert(error_of(exc), f"subscribe group {group!r}", self._where) from exc

    # -- rebalance callbacks (on the caller's thread, inside poll/close) -----------------

    def _revoked(self, _consumer: Any, partitions: list[Any]) -> None:
        self._revoked_tps({TopicPartition(p.topic, p.partition) for p in partitions})

    def _lost_all(self, _consumer: Any, partitions: list[Any]) -> None:
        self._lost_tps({TopicPartition(p.topic, p.partition) for p in partitions})

    def _assigned(self, consumer: Any, partitions: list[Any]) -> None:
        """Run ``on_assign``, then assign with the offsets it seeked to: librdkafka
        cannot seek a partition before it has started fetching it."""
        self._seeks = {}
        self._assigning = True
        try:
            self._assigned_tps({TopicPartition(p.topic, p.partition) for p in partitions})
        finally:
            self._assigning = False
        for p in partitions:
            offset = self._seeks.get(TopicPartition(p.topic, p.partition))
            if offset is not None:
                p.offset = offset
        consumer.assign(partitions)

    # -- reading (hot path) ------------------------------------------------------------

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        """What librdkafka has fetched already, up to ``max_records``; only when that
        is nothing, wait up to ``timeout`` for the first record."""
        self._check_open()
        consumer = self._consumer
        try:
            messages = consumer.consume(max_records, 0)
            if not messages and timeout > 0:
                first = consumer.poll(timeout)
                if first is not None:
                    messages = [first]
                    if max_records > 1:
                        messages.extend(consumer.consume(max_records - 1, 0))
        except KafkaException as exc:
            raise convert(error_of(exc), "poll", self._where) from exc
        if self._errors:
            self._raise_callback_error()
        out: list[Record] = []
        append = out.append
        for m in messages:  # hot
            error = m.error()
            if error is not None:
                if error.code() == _EOF:
                    continue
                raise convert(error, "poll", self._where)
            append(
                Record(m.topic(), m.partition(), m.offset(), m.key(), m.value(), m.timestamp()[1])  # type: ignore[arg-type]
            )
        return out

    # -- offsets -----------------------------------------------------------------------

    def group_metadata(self) -> Any | None:
        """This member's generation for KIP-447 fencing, or None before it joined;
        CommitFailed after it lost its partitions."""
        if self._lost:
            raise self._lost_error()
        if not self._joined or self._closed:
            return None
        return self._consumer.consumer_group_metadata()

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Store next-offsets; CommitFailed for partitions this member does not own."""
        self._check_open()
        if not offsets:
            return
        self._check_commit(offsets)
        action = f"commit offsets of group {self.group!r}"
        wanted = [ck.TopicPartition(tp.topic, tp.partition, int(o)) for tp, o in offsets.items()]
        try:
            result = self._consumer.commit(offsets=wanted, asynchronous=False)
        except KafkaException as exc:
            raise convert(error_of(exc), action, self._where) from exc
        for tp in result or ():
            if tp.error is not None:
                raise convert(tp.error, action, self._where)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._check_seek(tp, offset)
        if self._assigning:
            self._seeks[tp] = offset
            return
        try:
            self._consumer.seek(ck.TopicPartition(tp.topic, tp.partition, offset))
        except KafkaException as exc:
            error = error_of(exc)
            if error is None or error.code() != KafkaError._STATE:
                raise convert(error, "seek", self._where) from exc
            self._reassign(tp, offset)

    def _reassign(self, tp: TopicPartition, offset: int) -> None:
        """Seek a partition that librdkafka has not started fetching (just assigned):
        assign again, ``tp`` at ``offset`` and every other partition where it is."""
        consumer = self._consumer
        try:
            positions = consumer.position(
                [ck.TopicPartition(t.topic, t.partition) for t in sorted(self._assignment)]
            )
            for p in positions:
                if p.topic == tp.topic and p.partition == tp.partition:
                    p.offset = offset
            consumer.assign(positions)
        except KafkaException as exc:
            raise convert(error_of(exc), "seek", self._where) from exc

    # -- lifecycle ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise IllegalState("this consumer is closed; make a new one with broker.consumer()")

    def close(self) -> None:
        """Revoke (``on_revoke``, which may still commit), leave the group, disconnect."""
        if self._closed:
            return
        try:
            self._consumer.close()
        except KafkaException as exc:
            raise convert(error_of(exc), f"leave group {self.group!r}", self._where) from exc
        finally:
            self._closed = True
            self._closed_now()
        self._raise_callback_error()


def _log_error(error: KafkaError) -> None:
    """librdkafka's client-level errors (a broker down, ...): it retries by itself."""
    log.debug("librdkafka: %s", error)
