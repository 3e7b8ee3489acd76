"""Squall's consumer-group member on Kafka: kafka-python's KafkaConsumer behind the
broker contract.

read_committed (aborted and open transactions are never returned), no auto-commit
(the caller commits what it has processed), a partition without a committed offset is
read from its beginning. Rebalances use the eager protocol, as the local log does:
``on_revoke`` gets the whole old assignment, then ``on_assign`` the whole new one.

kafka-python runs rebalances on its own I/O thread and refuses blocking calls from
there, yet the contract lets ``on_revoke`` commit (the classic Kafka hand-over). So the
listener runs the user's callback on a helper thread and yields to kafka-python's event
loop until it returns: the caller's thread is blocked in ``poll``/``close`` meanwhile,
so the callback still has the consumer to itself. An exception in a callback is kept
and raised from the ``poll`` or ``close`` that ran the rebalance, once it is complete.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Mapping
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from squall.broker.base import RebalanceCallback, Record, TopicPartition
from squall.broker.exceptions import IllegalState
from squall.broker.kafka.errors import construct, translate
from squall.broker.kafka.member import GroupMember

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka
    from kafka.consumer.fetcher import ConsumerRecord
    from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener
    from kafka.structs import ConsumerGroupMetadata, OffsetAndMetadata

if TYPE_CHECKING:
    from squall.broker.kafka.broker import KafkaBroker

__all__ = ["KafkaMember"]

_CALLBACK_POLL = 0.005  # s; how often the event loop checks for the callback's end

# kafka-python's ConsumerRecord (a namedtuple) -> Record, without Python code per record
_RECORD_FIELDS = itemgetter(
    *[
        ConsumerRecord._fields.index(name)
        for name in ("topic", "partition", "offset", "key", "value", "timestamp")
    ]
)
_to_record = partial(tuple.__new__, Record)  # Record._make is Python code


class KafkaMember(GroupMember):
    """A member of consumer group ``group`` (see module docstring). Not thread-safe."""

    def __init__(
        self,
        broker: KafkaBroker,
        group: str,
        topics: Iterable[str],
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ):
        topics = self._join_as(broker, group, topics, on_assign, on_revoke)
        self._closing = False
        self._closed = False
        o = broker.options
        self._consumer = construct(
            kafka.KafkaConsumer,
            f"connect a member of group {group!r}",
            self._where,
            bootstrap_servers=broker.servers,
            client_id=o.client_id,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=o.session_timeout_ms,
            heartbeat_interval_ms=o.heartbeat_interval_ms,
            max_poll_interval_ms=o.max_poll_interval_ms,
            fetch_max_wait_ms=o.fetch_max_wait_ms,
            bootstrap_timeout_ms=o.bootstrap_timeout_ms,
            reconnect_backoff_max_ms=o.reconnect_backoff_max_ms,
            metadata_max_age_ms=o.metadata_max_age_ms,
        )
        try:
            with translate(f"subscribe group {group!r}", self._where):
                self._consumer.subscribe(topics, listener=_Listener(self))
                # Know the topics before the first join: a group leader without metadata
                # for a just-created topic assigns nothing, and kafka-python 3.0.12 may
                # not rebalance again until its next metadata refresh.
                for topic in topics:
                    self._consumer.partitions_for_topic(topic)
        except BaseException:
            self._consumer.close(autocommit=False)
            raise

    # -- rebalance callbacks (run on a helper thread, see module docstring) ------------

    def _revoked(self, tps: set[Any]) -> None:
        self._revoked_tps({TopicPartition(tp.topic, tp.partition) for tp in tps})

    def _lost_all(self, tps: set[Any]) -> None:
        self._lost_tps({TopicPartition(tp.topic, tp.partition) for tp in tps})

    def _assigned(self, tps: set[Any]) -> None:
        owned = self._consumer.assignment()
        self._assigned_tps({TopicPartition(tp.topic, tp.partition) for tp in owned})

    # -- reading (hot path) ------------------------------------------------------------

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        self._check_open()
        with translate("poll", self._where):
            batches = self._consumer.poll(
                timeout_ms=max(int(timeout * 1000), 0), max_records=max_records
            )
        if self._errors:
            self._raise_callback_error()
        if not batches:
            return []
        out: list[Record] = []
        for records in batches.values():
            out.extend(map(_to_record, map(_RECORD_FIELDS, records)))
        return out

    # -- offsets -----------------------------------------------------------------------

    def group_metadata(self) -> ConsumerGroupMetadata | None:
        """This member's generation for KIP-447 fencing, or None before it joined;
        CommitFailed after it lost its partitions."""
        if self._lost:
            raise self._lost_error()
        if not self._joined or self._closed:
            return None
        metadata: ConsumerGroupMetadata = self._consumer.group_metadata()
        return metadata if metadata.generation_id >= 0 else None

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Store next-offsets; CommitFailed for partitions this member does not own."""
        self._check_open()
        if not offsets:
            return
        self._check_commit(offsets)
        converted = {
            kafka.TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(int(o), "", -1)
            for tp, o in offsets.items()
        }
        with translate(f"commit offsets of group {self.group!r}", self._where):
            self._consumer.commit(converted)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._check_seek(tp, offset)
        with translate("seek", self._where):
            self._consumer.seek(kafka.TopicPartition(tp.topic, tp.partition), offset)

    # -- lifecycle ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed and not self._closing:
            raise IllegalState("this consumer is closed; make a new one with broker.consumer()")

    def close(self) -> None:
        """Revoke (``on_revoke``, which may still commit), leave the group, disconnect."""
        if self._closed:
            return
        self._closed = self._closing = True
        try:
            with translate(f"leave group {self.group!r}", self._where):
                self._consumer.close(autocommit=False)
        finally:
            self._closing = False
            self._closed_now()
        self._raise_callback_error()


class _Listener(AsyncConsumerRebalanceListener):
    """Runs the member's callbacks off kafka-python's I/O thread (module docstring)."""

    def __init__(self, member: KafkaMember):
        self._member = member

    async def _run(self, work: Any, tps: set[Any]) -> None:
        done = threading.Event()

        def target() -> None:
            try:
                work(tps)
            finally:
                done.set()

        threading.Thread(target=target, name="squall-rebalance", daemon=True).start()
        net = self._member._consumer._net  # kafka-python 3.x's event loop
        while not done.is_set():
            await net.sleep(_CALLBACK_POLL)

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        await self._run(self._member._revoked, revoked)

    async def on_partitions_assigned(self, assigned: set[Any]) -> None:
        await self._run(self._member._assigned, assigned)

    async def on_partitions_lost(self, lost: set[Any]) -> None:
        await self._run(self._member._lost_all, lost)
