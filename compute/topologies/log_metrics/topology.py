"""The standard topology: raw Flume events in ``logs.raw`` -> per-minute aggregate rows
in ``logs.metrics``, unparseable events to ``logs.deadletter``.

    events (EventSpout) -shuffle-> parse -fields(service, route)-> aggregate --+
                                     \\--"invalid"-shuffle-> deadletter -------+-global-> sink

Exactly-once: the worker checkpoints every second; at a checkpoint every event read so
far has been parsed and aggregated, the aggregators flush their deltas, and the sink
writes the rows, the dead letters and the spout's offsets in one broker transaction.
After a crash the worker resumes from those offsets with empty aggregators, so nothing
is counted twice or lost. Duplicate events (the same ``id`` header, which the
collector's at-least-once delivery may produce) are dropped by the spout.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson

from compute.component import Bolt
from compute.config import Config
from compute.connectors import BrokerSink, BrokerSpout
from compute.context import Checkpoint, TopologyContext
from compute.topologies.log_metrics.aggregate import MinuteAggregator
from compute.topologies.log_metrics.parse import ParsedEvent, parse_event
from compute.topologies.log_metrics.rows import encode_row
from compute.topology import Topology
from compute.tuple import Tuple
from squall.broker import Record, TopicPartition
from squall.settings import Settings

__all__ = ["CONFIG", "NAME", "build_topology", "group"]

NAME = "log-metrics"
CONFIG = Config(message_timeout=60, max_spout_pending=20_000, checkpoint_interval=1.0)
NOT_AN_EVENT = "record is not a Flume JSON event {'headers': {...}, 'body': '...'}"


class EventSpout(BrokerSpout):
    """Decodes Flume events and drops repeats of an ``id`` seen in the last
    ``dedup_window`` events of the same partition (duplicates share the key, so they
    share the partition)."""

    outputs = ["headers", "body"]

    def __init__(self, *args: Any, dedup_window: int = 200_000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dedup_window = dedup_window

    def open(self, context: TopologyContext) -> None:
        self._seen: dict[TopicPartition, tuple[set[str], deque[str]]] = {}
        super().open(context)

    def to_values(self, record: Record) -> list[Any] | None:
        try:
            event = orjson.loads(record.value)
            headers = event.get("headers") or {}
            body = event.get("body") or ""
        except (orjson.JSONDecodeError, AttributeError):
            return [None, record.value.decode("utf-8", "replace")]
        if type(headers) is not dict or type(body) is not str:
            return [None, record.value.decode("utf-8", "replace")]
        event_id = headers.get("id")
        if event_id:
            tp = TopicPartition(record.topic, record.partition)
            seen = self._seen.get(tp)
            if seen is None:
                seen = self._seen[tp] = (set(), deque())
            ids, order = seen
            if event_id in ids:
                return None
            ids.add(event_id)
            order.append(event_id)
            if len(order) > self.dedup_window:
                ids.discard(order.popleft())
        return [headers, body]


class ParseBolt(Bolt):
    """Flume event -> ParsedEvent on ``default``, or ``[reason, event]`` on ``invalid``."""

    outputs = {"default": list(ParsedEvent._fields), "invalid": ["reason", "event"]}

    def process(self, tup: Tuple) -> None:
        headers, body = tup.values
        if headers is None:
            self.emit([NOT_AN_EVENT, {"headers": {}, "body": body}], tup, "invalid")
            return
        parsed = parse_event(headers, body)
        if type(parsed) is ParsedEvent:
            self.emit(parsed, tup)
        else:
            self.emit([parsed[0], {"headers": headers, "body": body}], tup, "invalid")


class AggregateBolt(Bolt):
    """Per-minute aggregation; deltas leave at every checkpoint."""

    outputs = ["topic", "key", "value"]

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def prepare(self, context: TopologyContext) -> None:
        self._aggregator = MinuteAggregator()
        self._add = self._aggregator.add

    def process(self, tup: Tuple) -> None:
        self._add(tup.values)  # type: ignore[arg-type]

    def pre_commit(self, checkpoint: Checkpoint) -> None:
        topic = self.topic
        for row in self._aggregator.flush():
            self.emit([topic, row["service"].encode(), encode_row(row)])


class DeadLetterBolt(Bolt):
    """``[reason, event]`` -> a ``logs.deadletter`` record."""

    outputs = ["topic", "key", "value"]

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def process(self, tup: Tuple) -> None:
        reason, event = tup.values
        service = event["headers"].get("service") if event["headers"] else None
        key = service.encode() if isinstance(service, str) else None
        self.emit([self.topic, key, orjson.dumps({"reason": reason, "event": event})])


def group(settings: Settings) -> str:
    """The consumer group of the topology's workers (and of its committed offsets)."""
    return f"{settings.group_prefix}-{NAME}"


def build_topology(settings: Settings, parse_tasks: int = 1, aggregate_tasks: int = 1) -> Topology:
    """The log-metrics topology reading and writing the broker of ``settings``."""
    url = settings.broker_url
    members = group(settings)
    topo = Topology(NAME)
    topo.spout("events", EventSpout(url, settings.topic_raw, members, commit="checkpoint"))
    topo.bolt("parse", ParseBolt, parse_tasks).shuffle_grouping("events")
    topo.bolt("aggregate", AggregateBolt(settings.topic_metrics), aggregate_tasks).fields_grouping(
        "parse", ["service", "route"]
    )
    topo.bolt("deadletter", DeadLetterBolt(settings.topic_deadletter)).shuffle_grouping(
        "parse", "invalid"
    )
    sink = topo.bolt("sink", BrokerSink(url, members, offsets_of="events"))
    sink.global_grouping("aggregate").global_grouping("deadletter")
    return topo
