"""The broker sink: each event as one record on ``logs.raw``, keyed by its ``service``.

The record value is the event in Flume's JSON shape, ``{"headers": {...}, "body": "..."}``
(orjson); the key is the ``service`` header (no key if absent), so a service's events
stay in one partition. An event without that header still gets a fixed partition: the
one its ``id`` header hashes to (CRC-32), so that a copy of it (a client's retry of a
request whose answer it never saw, or the channel's replay after a crash) lands in the
same partition as the original, where the topology's spout drops repeats by id. Spread
round-robin instead, a copy could land in another partition and be counted twice. A
``partition`` header (an integer in range) overrides the key's choice; one that is not
a valid partition is ignored, never retried forever. ``send``
then ``flush`` makes the batch durable (the broker contract), after which the runner
commits the channel take.
"""

from __future__ import annotations

import contextlib
import zlib

import orjson

from squall.broker import Broker, Producer, open_broker
from squall.exceptions import SquallError
from squall.ingest.event import Event
from squall.ingest.exceptions import SinkError
from squall.ingest.sinks.base import Sink
from squall.topics import RAW_PARTITIONS

__all__ = ["BrokerSink"]


class BrokerSink(Sink):
    """Writes batches to a topic through ``squall.broker`` (local log or Kafka)."""

    name = "broker"

    def __init__(
        self,
        url: str,
        topic: str = "logs.raw",
        key_header: str = "service",
        partitions: int = RAW_PARTITIONS,
        partition_header: str = "partition",
    ) -> None:
        """``partitions`` is used when the sink creates the topic; an existing topic
        keeps its own count."""
        self.url = url
        self.topic = topic
        self.key_header = key_header
        self.partitions = partitions
        self.partition_header = partition_header
        self._valid_partitions: dict[str, int] = {}
        self._broker: Broker | None = None
        self._producer: Producer | None = None

    def start(self) -> None:
        try:
            self._broker = open_broker(self.url)
            self._broker.create_topic(self.topic, self.partitions)
            n = self._broker.partitions(self.topic)
            self._valid_partitions = {str(p): p for p in range(n)}
            self._producer = self._broker.producer()
        except (SquallError, OSError, ImportError) as exc:
            self.stop()
            raise SinkError(f"broker sink cannot open {self.url}: {exc}") from exc

    def process(self, events: list[Event]) -> None:
        producer = self._producer
        if producer is None:
            raise SinkError("broker sink is not started")
        topic, key_header, dumps = self.topic, self.key_header, orjson.dumps
        part_header, valid = self.partition_header, self._valid_partitions
        n, crc32 = len(valid), zlib.crc32
        try:
            for e in events:  # hot
                headers = e["headers"]
                key = headers.get(key_header)
                override = headers.get(part_header)
                partition = valid.get(override) if override is not None else None
                if key is None and partition is None and n:
                    event_id = headers.get("id")
                    if type(event_id) is str:  # copies of an event share its partition
                        partition = crc32(event_id.encode()) % n
                producer.send(
                    topic,
                    dumps(e),
                    key.encode() if key is not None else None,
                    partition,
                )
            producer.flush()
        except SquallError as exc:
            self.stop()  # reconnect on the runner's next start()
            raise SinkError(f"broker sink could not deliver to {self.topic}: {exc}") from exc

    def stop(self) -> None:
        producer, broker = self._producer, self._broker
        self._producer = self._broker = None
        for closeable in (producer, broker):
            if closeable is not None:
                with contextlib.suppress(SquallError, OSError):
                    closeable.close()
