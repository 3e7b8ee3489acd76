"""The log-metrics bolts and spout on batches: what goes where, and a bad event never
takes its batch down."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

import squall.compute.topologies.log_metrics.topology as topology
from squall.broker import Record, TopicPartition
from squall.compute import Config
from squall.compute.context import TopologyContext
from squall.compute.topologies.log_metrics.parse import ParsedEvent, parse_event
from squall.compute.topologies.log_metrics.topology import (
    INTERNAL_ERROR,
    NOT_AN_EVENT,
    EventSpout,
    ParseBolt,
)
from squall.compute.tuple import Tuple
from squall.schema import EVENT_COLUMNS, EVENTS_PER_RECORD
from squall.traffic import generate_events

AGGREGATORS = [7, 8, 9]


def _context(aggregators: list[int]) -> TopologyContext:
    return TopologyContext(
        topology="log-metrics",
        component="parse",
        task_id=2,
        task_index=0,
        parallelism=1,
        config=Config(),
        component_tasks={"events": [1], "parse": [2], "aggregate": aggregators},
    )


class Recorder:
    """Stands in for the runtime's collector."""

    def __init__(self, bolt: ParseBolt) -> None:
        self.direct: list[tuple[int, list[Any]]] = []
        self.invalid: list[list[Any]] = []
        self.records: list[list[Any]] = []
        bolt.attach(self)

    def emit(self, values: Sequence[Any], anchors: Any = None, stream: str = "default") -> None:
        assert stream in ("invalid", "events")
        (self.invalid if stream == "invalid" else self.records).append(list(values))

    def emit_direct(
        self, task: int, values: Sequence[Any], anchors: Any = None, stream: str = "default"
    ) -> None:
        self.direct.append((task, list(values)))

    def ack(self, tup: Tuple) -> None:
        raise AssertionError("the parse bolt acks automatically")

    def fail(self, tup: Tuple) -> None:
        raise AssertionError("the parse bolt fails by raising")


def _batch(events: list[list[Any]]) -> Tuple:
    return Tuple([events], "default", "events", 1, {"events": 0}, None)


def _json_events(n: int) -> list[list[Any]]:
    return [
        [{"id": f"e{i}"}, orjson.dumps(e).decode(), f"e{i}"]
        for i, e in enumerate(generate_events(n))
    ]


def test_every_good_event_reaches_exactly_one_aggregator_by_key() -> None:
    bolt = ParseBolt()
    bolt.prepare(_context(AGGREGATORS))
    out = Recorder(bolt)
    events = _json_events(3000)
    bolt.process(_batch(events))
    assert out.invalid == []
    assert {task for task, _ in out.direct} <= set(AGGREGATORS)
    assert len(out.direct) == len({task for task, _ in out.direct})  # one tuple per task
    owner: dict[tuple[str, str], int] = {}
    delivered: Counter[ParsedEvent] = Counter()
    for task, (share,) in out.direct:
        for event in share:
            assert owner.setdefault((event.service, event.route), task) == task
            delivered[event] += 1
    expected = Counter(parse_event(h, b) for h, b, _id in events)
    assert delivered == expected
    assert len(set(owner.values())) > 1  # the keys did spread


def test_one_aggregator_gets_the_whole_batch_as_one_tuple() -> None:
    bolt = ParseBolt()
    bolt.prepare(_context([7]))
    out = Recorder(bolt)
    events = _json_events(100)
    bolt.process(_batch(events))
    assert [(task, len(values[0])) for task, values in out.direct] == [(7, 100)]


def test_bad_events_are_dead_lettered_and_the_rest_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def parse_or_crash(headers: dict[str, str], body: str) -> Any:
        if "crash" in body:
            raise RuntimeError("bug")
        return parse_event(headers, body)

    monkeypatch.setattr(topology, "parse_event", parse_or_crash)
    bolt = ParseBolt()
    bolt.prepare(_context([7]))
    out = Recorder(bolt)
    good = _json_events(10)
    events = [
        *good[:5],
        [None, "not json at all", None],
        [{"service": "web"}, "crash me", "raw-0-1"],
        [{"service": "web"}, "certainly not a log line", "raw-0-2"],
        *good[5:],
    ]
    bolt.process(_batch(events))
    assert [len(values[0]) for _task, values in out.direct] == [10]
    reasons = [reason for reason, _event in out.invalid]
    assert reasons[0] == NOT_AN_EVENT
    assert reasons[1] == INTERNAL_ERROR
    assert len(reasons) == 3 and reasons[2] not in (NOT_AN_EVENT, INTERNAL_ERROR)
    assert [event["body"] for _reason, event in out.invalid] == [
        "not json at all",
        "crash me",
        "certainly not a log line",
    ]


def test_parse_bolt_emits_every_good_event_with_its_line_in_records_keyed_by_service() -> None:
    bolt = ParseBolt("logs.events")
    bolt.prepare(_context([7]))
    out = Recorder(bolt)
    good = _json_events(1000)
    for i, item in enumerate(good):
        item[0]["host"] = f"h{i % 3}"
    bad = [None, "not json at all", None]
    bolt.process(_batch([*good[:500], bad, *good[500:]]))
    assert [reason for reason, _event in out.invalid] == [NOT_AN_EVENT]  # unchanged
    assert out.records and all(topic == "logs.events" for topic, _k, _v in out.records)
    events: list[dict[str, Any]] = []
    for _topic, key, value in out.records:
        lines = value.split(b"\n")
        assert 1 <= len(lines) <= EVENTS_PER_RECORD
        for line in lines:
            event = orjson.loads(line)
            assert list(event) == [c.name for c in EVENT_COLUMNS]
            assert event["service"].encode() == key
            events.append(event)
    by_id = {e["id"]: e for e in events}
    assert len(by_id) == len(events) == len(good)
    for headers, body, event_id in good:
        parsed = parse_event(headers, body)
        assert isinstance(parsed, ParsedEvent)
        event = by_id[event_id]
        assert event["line"] == body and event["host"] == headers["host"]
        assert (event["time"], event["service"], event["method"], event["route"]) == (
            parsed.time_ms,
            parsed.service,
            parsed.method,
            parsed.route,
        )
        assert (event["status"], event["bytes"], event["latency_ms"], event["user"]) == (
            parsed.status,
            parsed.bytes,
            parsed.latency_ms,
            parsed.user,
        )


def test_parse_bolt_without_an_events_topic_emits_no_events() -> None:
    bolt = ParseBolt()
    bolt.prepare(_context([7]))
    out = Recorder(bolt)
    bolt.process(_batch(_json_events(100)))
    assert out.records == [] and len(out.direct) == 1


def _records(partition: int, values: list[bytes]) -> list[Record]:
    return [Record("logs.raw", partition, i, None, v, 0) for i, v in enumerate(values)]


def test_event_spout_decodes_a_batch_and_drops_repeated_ids() -> None:
    spout = EventSpout("local:///nowhere", "logs.raw", "g", dedup_window=3)
    spout._seen = {}  # what open() sets up, without connecting
    flume = [orjson.dumps({"headers": {"id": f"e{i}"}, "body": f"line {i}"}) for i in range(5)]
    p0 = TopicPartition("logs.raw", 0)
    first = spout.to_batch(p0, _records(0, [flume[0], flume[1], flume[0], b"{oops"]))
    assert first == [
        [{"id": "e0"}, "line 0", "e0"],
        [{"id": "e1"}, "line 1", "e1"],
        [None, "{oops", None],
    ]
    # ids are remembered per partition: the same id elsewhere is not a repeat
    other = spout.to_batch(TopicPartition("logs.raw", 1), _records(1, [flume[0]]))
    assert other == [[{"id": "e0"}, "line 0", "e0"]]
    # the window holds the last 3 ids of the partition: e0 has left it by now
    later = spout.to_batch(p0, _records(0, [flume[2], flume[3], flume[1], flume[0]]))
    assert later == [
        [{"id": "e2"}, "line 2", "e2"],
        [{"id": "e3"}, "line 3", "e3"],
        [{"id": "e0"}, "line 0", "e0"],
    ]
    # an event without an id is named by its record's place: the same after a replay
    anonymous = orjson.dumps({"headers": {}, "body": "no id"})
    assert spout.to_batch(p0, _records(0, [anonymous])) == [[{}, "no id", "raw-0-0"]]
