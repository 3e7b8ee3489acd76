"""``BrokerSpout``: a topic read by a consumer-group member, one tuple per record;
``BrokerBatchSpout``: the same, one tuple per partition and poll.

Offsets follow Storm's KafkaSpout: a partition's position is its *lowest unacked
offset* (or the next offset to read when nothing is in flight), so a crash never skips
a record whose tree did not complete. Failed tuples are re-emitted from memory. On a
rebalance the spout stops emitting for revoked partitions and forgets their pending
trees without committing them; the new owner resumes from the committed offset.

Two ways to commit the position:

* ``commit="auto"``: the spout commits it itself every ``commit_interval`` seconds
  (at-least-once);
* ``commit="checkpoint"``: the spout only reports it in ``snapshot()``, and a
  transactional sink (``BrokerBolt``) commits it in the same transaction as the
  output (exactly-once). Losing partitions in a rebalance triggers a checkpoint first,
  so that state built from their records is committed with their offsets.

Per-record tuples cost the runtime a few microseconds each (routing, anchoring,
acking), as much as parsing a log line. ``BrokerBatchSpout`` emits the records of one
partition that one poll returned as a single tuple, tracked and replayed as a unit (as
Storm's Trident does with its batches): the offsets logic is the same, with a batch
standing at its first offset.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from itertools import groupby
from operator import attrgetter
from typing import Any, Literal

from squall.broker import Broker, Consumer, Record, TopicPartition, open_broker
from squall.compute.context import TopologyContext
from squall.compute.spout import Spout

__all__ = ["BrokerBatchSpout", "BrokerSpout"]

log = logging.getLogger(__name__)

MsgId = tuple[TopicPartition, int]
"""A tuple's partition and the offset of its (first) record."""

# How long an idle spout waits in poll. Not 0: kafka-python completes a group join only
# inside a poll that may wait (with 0 it abandons every SyncGroup and rejoins forever).
_POLL_WAIT = 0.05


class BrokerSpout(Spout):
    """Emits ``[key, value]`` per record (override ``to_values`` to decode).

    Each task is one member of ``group``; give the spout as many tasks as you want
    consumers (more than the topic has partitions leaves some idle).
    """

    outputs = ["key", "value"]

    def __init__(
        self,
        broker_url: str,
        topic: str,
        group: str,
        commit: Literal["auto", "checkpoint"] = "auto",
        commit_interval: float = 1.0,
        max_poll_records: int = 500,
    ) -> None:
        self.broker_url = broker_url
        self.topic = topic
        self.group = group
        self.commit_mode = commit
        self.commit_interval = commit_interval
        self.max_poll_records = max_poll_records

    # -- decoding hook -------------------------------------------------------------------
    def to_values(self, record: Record) -> list[Any] | None:
        """The tuple for ``record``, or None to skip it (it then counts as done)."""
        return [record.key, record.value]

    # -- lifecycle -----------------------------------------------------------------------
    def open(self, context: TopologyContext) -> None:
        self._context = context
        self._queue: deque[Record] = deque()
        self._retry: deque[MsgId] = deque()
        self._pending: dict[MsgId, list[Any]] = {}  # in flight or failed: values to replay
        self._inflight: dict[TopicPartition, set[int]] = {}
        self._next: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._commit_after = time.monotonic() + self.commit_interval
        self._broker: Broker = open_broker(self.broker_url)
        self._consumer: Consumer = self._broker.consumer(
            self.group, [self.topic], on_assign=self._assigned, on_revoke=self._revoked
        )

    def close(self) -> None:
        if self.commit_mode == "auto":
            self._commit()
        self._consumer.close()
        self._broker.close()

    # -- emitting ------------------------------------------------------------------------
    def next_tuple(self) -> None:
        if self._retry:
            self._replay()
            return
        queue = self._queue
        if not queue:
            records = self._poll()
            if not records:
                return
            queue.extend(records)
        record = queue.popleft()
        tp = TopicPartition(record.topic, record.partition)
        self._next[tp] = record.offset + 1
        values = self.to_values(record)
        if values is None:
            return
        self._track_and_emit(tp, record.offset, values)

    def _replay(self) -> None:
        msg_id = self._retry.popleft()
        values = self._pending.get(msg_id)
        if values is not None:
            self.emit(values, msg_id=msg_id)

    def _poll(self) -> list[Record]:
        now = time.monotonic()
        if self.commit_mode == "auto" and now >= self._commit_after:
            self._commit_after = now + self.commit_interval
            self._commit()
        return self._consumer.poll(max_records=self.max_poll_records, timeout=_POLL_WAIT)

    def _track_and_emit(self, tp: TopicPartition, offset: int, values: list[Any]) -> None:
        msg_id = (tp, offset)
        self._pending[msg_id] = values
        inflight = self._inflight.get(tp)
        if inflight is None:
            inflight = self._inflight[tp] = set()
        inflight.add(offset)
        self.emit(values, msg_id=msg_id)

    def ack(self, msg_id: MsgId) -> None:
        if self._pending.pop(msg_id, None) is not None:
            self._inflight[msg_id[0]].discard(msg_id[1])

    def fail(self, msg_id: MsgId) -> None:
        if msg_id in self._pending:
            self._retry.append(msg_id)

    # -- positions -----------------------------------------------------------------------
    def positions(self) -> dict[TopicPartition, int]:
        """Per owned partition: the lowest unacked offset, else the next one to read."""
        out = {}
        for tp, nxt in self._next.items():
            inflight = self._inflight.get(tp)
            out[tp] = min(inflight) if inflight else nxt
        return out

    def snapshot(self) -> dict[TopicPartition, int]:
        return self.positions()

    def _commit(self) -> None:
        changed = {tp: o for tp, o in self.positions().items() if self._committed.get(tp) != o}
        if changed:
            self._consumer.commit(changed)
            self._committed.update(changed)

    # -- rebalance -----------------------------------------------------------------------
    def _assigned(self, tps: set[TopicPartition]) -> None:
        """Nothing to do: the consumer resumes each partition from its committed offset."""
        log.info("%s: partitions assigned %s", self.group, sorted(tps))

    def _revoked(self, tps: set[TopicPartition]) -> None:
        """Hand the partitions over. With checkpoints, take one now, so the output and
        the positions of everything read so far commit before another worker (or this
        one, after the rebalance) resumes from the committed offsets. Then forget the
        partitions' records and trees: the new owner replays whatever is uncommitted."""
        if self.commit_mode == "checkpoint" and self._context.request_checkpoint is not None:
            self._context.request_checkpoint()
        log.info(
            "%s: partitions revoked %s at positions %s",
            self.group,
            sorted(tps),
            {f"{tp.topic}[{tp.partition}]": o for tp, o in self.positions().items()},
        )
        # in place: next_tuple holds this deque across the poll that calls us
        kept = [r for r in self._queue if (r.topic, r.partition) not in tps]
        self._queue.clear()
        self._queue.extend(kept)
        for tp in tps:
            self._next.pop(tp, None)
            self._committed.pop(tp, None)
            for offset in self._inflight.pop(tp, ()):
                self._pending.pop((tp, offset), None)


_partition_of = attrgetter("topic", "partition")


class BrokerBatchSpout(BrokerSpout):
    """Emits ``[values]`` per partition and poll: ``values`` holds ``to_values(record)``
    of each record in offset order (records it maps to None are left out).

    A batch is acked, failed and replayed as a whole, so a bolt that handles one should
    not fail it for a single bad record: send that record aside (a dead-letter stream)
    and carry on. ``max_poll_records`` bounds a batch; ``Config.max_spout_pending``
    counts batches.
    """

    outputs = ["batch"]

    def to_batch(self, tp: TopicPartition, records: Sequence[Record]) -> list[Any]:
        """The values of ``records`` (one partition, offset order). Override to decode
        a batch faster than record by record."""
        to_values = self.to_values
        return [v for v in map(to_values, records) if v is not None]

    def next_tuple(self) -> None:
        if self._retry:
            self._replay()
            return
        records = self._poll()
        if not records:
            return
        # the consumer returns each partition's records together, in offset order
        for (topic, partition), group in groupby(records, _partition_of):
            chunk = list(group)
            tp = TopicPartition(topic, partition)
            self._next[tp] = chunk[-1].offset + 1
            values = self.to_batch(tp, chunk)
            if values:
                self._track_and_emit(tp, chunk[0].offset, [values])
