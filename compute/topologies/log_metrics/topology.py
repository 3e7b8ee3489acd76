"""The standard topology: raw Flume events in ``logs.raw`` -> per-minute aggregate rows
in ``logs.metrics``, every parsed event with its raw line in ``logs.events`` (unless
``Settings.events`` is off), unparseable events to ``logs.deadletter``.

    events (EventSpout) -shuffle-> parse -direct(service, route)-> aggregate --+
                                     |\\--"invalid"-shuffle-> deadletter -------+-global-> sink
                                     \\---"events"-----------------------------+

Tuples carry batches: the spout emits the events of one partition that one poll
returned as one tuple, the parse bolt sends each aggregator task its share of a batch
as one tuple (split by a stable hash of service and route, so a key always meets the
same aggregator). Per-event work is then parsing and aggregating only; the runtime's
routing and acking cost is paid per batch (bench/scaleout.py measures it).

Exactly-once: the worker checkpoints every second; at a checkpoint every event read so
far has been parsed and aggregated, the aggregators flush their deltas, and the sink
writes the rows, the events, the dead letters and the spout's offsets in one broker
transaction.
After a crash the worker resumes from those offsets with empty aggregators, so nothing
is counted twice or lost. Duplicate events (the same ``id`` header, which the
collector's at-least-once delivery may produce) are dropped by the spout.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

import orjson

from squall.broker import Record, TopicPartition
from squall.compute.bolt import Bolt
from squall.compute.config import Config
from squall.compute.connectors import BrokerBatchSpout, BrokerBolt
from squall.compute.context import Checkpoint, TopologyContext
from squall.compute.grouping import stable_hash
from squall.compute.topologies.log_metrics.aggregate import MinuteAggregator
from squall.compute.topologies.log_metrics.events import EventEncoder
from squall.compute.topologies.log_metrics.parse import ParsedEvent, Rejected, parse_event
from squall.compute.topology import Topology
from squall.compute.tuple import Tuple
from squall.exceptions import SquallError
from squall.rows import encode_row
from squall.settings import Settings

__all__ = ["CONFIG", "NAME", "build_topology", "group"]

NAME = "log-metrics"
log = logging.getLogger(__name__)

MAX_BATCH = 2000
"""Records per poll, so per tuple; a poll costs the Kafka client ~0.1 ms however many
records it returns."""
CONFIG = Config(message_timeout=60, max_spout_pending=16, spout_batch=2, checkpoint_interval=1.0)
"""At most 16 batches in flight; the bolts run after every 2 polls."""
NOT_AN_EVENT = "record is not a Flume JSON event {'headers': {...}, 'body': '...'}"
INTERNAL_ERROR = "the parser failed on this event (a bug in Squall; please report it)"


class EventSpout(BrokerBatchSpout):
    """Decodes Flume events to ``[headers, body, id]`` (``[None, text, None]`` when a
    record is not one) and drops repeats of an ``id`` seen in the last ``dedup_window``
    events of the same partition (copies of an event share its partition: the collector
    keys it by service, else places it by id). An event without an ``id`` header gets
    ``raw-<partition>-<offset>``: unique, and the same after a replay (the dead letter
    keeps the headers as they came).

    The window outlives a restart and a rebalance: when a partition is assigned, the
    spout reads back up to ``warm_up`` records before the committed offset only to learn
    their ids, then goes on from the committed offset. Without that, a copy that arrives
    after a restart (a client's retry of a request whose answer was lost when the
    collector died, the collector's channel replay) met an empty window and was counted
    a second time (found by ``make chaos``). Best effort: a broker that cannot seek
    there leaves the window empty, as before."""

    outputs = ["events"]

    def __init__(
        self, *args: Any, dedup_window: int = 200_000, warm_up: int = 50_000, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.dedup_window = dedup_window
        self.warm_up = min(warm_up, dedup_window)

    def open(self, context: TopologyContext) -> None:
        self._seen: dict[TopicPartition, tuple[set[str], deque[str]]] = {}
        self._warming: dict[TopicPartition, int] = {}  # read back up to this offset
        super().open(context)

    def _assigned(self, tps: set[TopicPartition]) -> None:
        super()._assigned(tps)
        for tp in tps:
            self._seen.pop(tp, None)
            self._warming.pop(tp, None)
            if self.warm_up <= 0:
                continue
            try:
                committed = self._consumer.committed(tp)
                if committed:
                    self._consumer.seek(tp, max(0, committed - self.warm_up))
                    self._warming[tp] = committed
            except SquallError as exc:
                log.warning("%s: no de-duplication warm-up for %s: %s", self.group, tp, exc)

    def _revoked(self, tps: set[TopicPartition]) -> None:
        super()._revoked(tps)
        for tp in tps:
            self._seen.pop(tp, None)
            self._warming.pop(tp, None)

    def _poll(self) -> list[Record]:
        records = super()._poll()
        warming = self._warming
        if not warming or not records:
            return records
        keep: list[Record] = []
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            until = warming.get(tp)
            if until is None:
                keep.append(record)
            elif record.offset < until:  # read back: its id only, never emitted again
                self._remember(tp, record)
            else:
                del warming[tp]
                keep.append(record)
        return keep

    def _remember(self, tp: TopicPartition, record: Record) -> None:
        try:
            event_id = (orjson.loads(record.value).get("headers") or {}).get("id")
        except (orjson.JSONDecodeError, AttributeError):
            return
        if not event_id or type(event_id) is not str:
            return
        seen = self._seen.get(tp)
        if seen is None:
            seen = self._seen[tp] = (set(), deque())
        ids, order = seen
        if event_id not in ids:
            ids.add(event_id)
            order.append(event_id)
            if len(order) > self.dedup_window:
                ids.discard(order.popleft())

    def to_batch(self, tp: TopicPartition, records: Sequence[Record]) -> list[Any]:
        seen = self._seen.get(tp)
        if seen is None:
            seen = self._seen[tp] = (set(), deque())
        ids, order = seen
        window = self.dedup_window
        loads = orjson.loads
        out: list[list[Any]] = []
        for record in records:  # hot
            try:
                event = loads(record.value)
                headers = event.get("headers") or {}
                body = event.get("body") or ""
            except (orjson.JSONDecodeError, AttributeError):
                out.append([None, record.value.decode("utf-8", "replace"), None])
                continue
            if type(headers) is not dict or type(body) is not str:
                out.append([None, record.value.decode("utf-8", "replace"), None])
                continue
            event_id = headers.get("id")
            if event_id and type(event_id) is str:
                if event_id in ids:
                    continue
                ids.add(event_id)
                order.append(event_id)
                if len(order) > window:
                    ids.discard(order.popleft())
            else:
                event_id = f"raw-{tp.partition}-{record.offset}"
            out.append([headers, body, event_id])
        return out


class ParseBolt(Bolt):
    """A batch of Flume events -> one batch of ParsedEvents per aggregator task (direct
    stream), ``[reason, event]`` per unusable event on ``invalid`` and, when given an
    ``events_topic``, ``[topic, key, value]`` records of the parsed events with their
    raw lines on ``events`` (squall.schema.EVENT_COLUMNS, NDJSON).

    A single event never fails the batch: whatever the parser raises sends that event
    to the dead letters, so good events are not replayed forever behind a bad one."""

    outputs = {
        "default": ["events"],
        "invalid": ["reason", "event"],
        "events": ["topic", "key", "value"],
    }

    def __init__(self, events_topic: str | None = None) -> None:
        self.events_topic = events_topic

    def prepare(self, context: TopologyContext) -> None:
        self._targets = list(context.tasks_of("aggregate"))
        self._encoder = EventEncoder() if self.events_topic else None

    def process(self, tup: Tuple) -> None:
        parsed_events: list[ParsedEvent] = []
        keep = parsed_events.append
        encoder = self._encoder
        add_event = encoder.add if encoder is not None else None
        for headers, body, event_id in tup.values[0]:  # hot
            if headers is None:
                self._reject(NOT_AN_EVENT, {}, body, tup)
                continue
            try:
                parsed = parse_event(headers, body)
            except Exception:
                parsed = Rejected(INTERNAL_ERROR)
            if type(parsed) is Rejected:
                self._reject(parsed.reason, headers, body, tup)
            else:
                keep(parsed)  # type: ignore[arg-type]
                if add_event is not None:
                    add_event(parsed, headers, event_id, body)  # type: ignore[arg-type]
        if parsed_events:
            self._send(parsed_events, tup)
        if encoder is not None:
            topic = self.events_topic
            for key, value in encoder.drain():
                self.emit([topic, key, value], tup, "events")

    def _reject(self, reason: str, headers: dict[str, Any], body: str, tup: Tuple) -> None:
        self.emit([reason, {"headers": headers, "body": body}], tup, "invalid")

    def _send(self, events: list[ParsedEvent], tup: Tuple) -> None:
        targets = self._targets
        if len(targets) == 1:
            self.emit_direct(targets[0], [events], tup)
            return
        shares: dict[int, list[ParsedEvent]] = {}
        n = len(targets)
        for event in events:
            task = targets[stable_hash(event.route, stable_hash(event.service)) % n]
            share = shares.get(task)
            if share is None:
                share = shares[task] = []
            share.append(event)
        for task, share in shares.items():
            self.emit_direct(task, [share], tup)


class AggregateBolt(Bolt):
    """Per-minute aggregation of batches of ParsedEvents; deltas leave at every
    checkpoint."""

    outputs = ["topic", "key", "value"]

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def prepare(self, context: TopologyContext) -> None:
        self._aggregator = MinuteAggregator()
        self._add_all = self._aggregator.add_all

    def process(self, tup: Tuple) -> None:
        self._add_all(tup.values[0])

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
    topo.spout(
        "events",
        EventSpout(
            url, settings.topic_raw, members, commit="checkpoint", max_poll_records=MAX_BATCH
        ),
    )
    events_topic = settings.topic_events if settings.events else None
    topo.bolt("parse", ParseBolt(events_topic), parse_tasks).shuffle_grouping("events")
    topo.bolt("aggregate", AggregateBolt(settings.topic_metrics), aggregate_tasks).direct_grouping(
        "parse"
    )
    topo.bolt("deadletter", DeadLetterBolt(settings.topic_deadletter)).shuffle_grouping(
        "parse", "invalid"
    )
    sink = topo.bolt("sink", BrokerBolt(url, members, offsets_of="events"))
    sink.global_grouping("aggregate").global_grouping("deadletter")
    if events_topic is not None:
        sink.global_grouping("parse", "events")
    return topo
