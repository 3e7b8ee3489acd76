"""``BrokerBolt``: the bolt that writes ``[topic, key, value]`` tuples to the broker.

Transactional (the default, exactly-once): records are buffered until the worker's
checkpoint (``Config.checkpoint_interval``); ``pre_commit`` then writes them and the
spout positions of the checkpoint in one broker transaction, so output and input
offsets become visible together or not at all. A crash before the commit loses only
uncommitted work, which the restarted worker replays from the committed offsets.

Non-transactional (at-least-once): records are sent as they come and flushed at each
checkpoint or tick.
"""

from __future__ import annotations

import logging
from typing import Any

from squall.broker import Broker, Producer, TopicPartition, open_broker
from squall.compute.bolt import Bolt
from squall.compute.context import Checkpoint, TopologyContext
from squall.compute.exceptions import TopologyError
from squall.compute.tuple import Tuple

__all__ = ["BrokerBolt"]

log = logging.getLogger(__name__)


class BrokerBolt(Bolt):
    """Run with parallelism 1 per worker when transactional: one transaction must hold
    everything the worker produced since the last checkpoint."""

    outputs = ()

    def __init__(
        self,
        broker_url: str,
        group: str,
        offsets_of: str | None = None,
        transactional: bool = True,
        flush_seconds: float = 1.0,
    ) -> None:
        """``offsets_of`` names the spout component whose positions are committed, as
        consumer group ``group``, with the output."""
        self.broker_url = broker_url
        self.group = group
        self.offsets_of = offsets_of
        self.transactional = transactional
        self.tick_seconds = None if transactional else flush_seconds  # type: ignore[misc]

    def prepare(self, context: TopologyContext) -> None:
        if self.transactional and context.parallelism != 1:
            raise TopologyError(
                f"{context.component!r}: a transactional BrokerBolt needs parallelism 1"
            )
        self._broker: Broker = open_broker(self.broker_url)
        self._producer: Producer = self._broker.producer(
            transactional_id=f"{self.group}-{context.component}-w{context.worker_index}"
            if self.transactional
            else None
        )
        self._buffer: list[tuple[str, Any, Any]] = []
        self._committed: dict[TopicPartition, int] = {}

    def process(self, tup: Tuple) -> None:
        topic, key, value = tup.values
        if self.transactional:
            self._buffer.append((topic, key, value))
        else:
            self._producer.send(topic, value, key=key)

    def process_tick(self) -> None:
        self._producer.flush()

    def pre_commit(self, checkpoint: Checkpoint) -> None:
        if not self.transactional:
            self._producer.flush()
            return
        offsets: dict[TopicPartition, int] = {}
        if self.offsets_of is not None:
            for task_positions in checkpoint.positions.get(self.offsets_of, {}).values():
                offsets.update(task_positions or {})  # type: ignore[call-overload]
        moved = {tp: o for tp, o in offsets.items() if self._committed.get(tp) != o}
        if not self._buffer and not moved:
            return
        producer = self._producer
        producer.begin_transaction()
        try:
            for topic, key, value in self._buffer:
                producer.send(topic, value, key=key)
            if moved:
                producer.send_offsets_to_transaction(offsets, self.group)
            producer.commit_transaction()
        except BaseException:
            producer.abort_transaction()
            raise
        log.debug("committed %d records with offsets %s", len(self._buffer), offsets)
        self._buffer.clear()
        self._committed.update(offsets)

    def cleanup(self) -> None:
        self._producer.close()
        self._broker.close()
