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
        bolt.attach(self)

    def emit(self, values: Sequence[Any], anchors: Any = None, stream: str = "default") -> None:
        assert stream == "invalid"
        self.invalid.append(list(values))

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
    return [[{"id": f"e{i}"}, orjson.dumps(e).decode()] for i, e in enumerate(generate_events(n))]


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
    expected = Counter(parse_event(h, b) for h, b in events)
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
        [None, "not json at all"],
        [{"service": "web"}, "crash me"],
        [{"service": "web"}, "certainly not a log line"],
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


def _records(partition: int, values: list[bytes]) -> list[Record]:
    return [Record("logs.raw", partition, i, None, v, 0) for i, v in enumerate(values)]


def test_event_spout_decodes_a_batch_and_drops_repeated_ids() -> None:
    spout = EventSpout("local:///nowhere", "logs.raw", "g", dedup_window=3)
    spout._seen = {}  # what open() sets up, without connecting
    flume = [orjson.dumps({"headers": {"id": f"e{i}"}, "body": f"line {i}"}) for i in range(5)]
    p0 = TopicPartition("logs.raw", 0)
    first = spout.to_batch(p0, _records(0, [flume[0], flume[1], flume[0], b"{oops"]))
    assert first == [[{"id": "e0"}, "line 0"], [{"id": "e1"}, "line 1"], [None, "{oops"]]
    # ids are remembered per partition: the same id elsewhere is not a repeat
    other = spout.to_batch(TopicPartition("logs.raw", 1), _records(1, [flume[0]]))
    assert other == [[{"id": "e0"}, "line 0"]]
    # the window holds the last 3 ids of the partition: e0 has left it by now
    later = spout.to_batch(p0, _records(0, [flume[2], flume[3], flume[1], flume[0]]))
    assert later == [[{"id": "e2"}, "line 2"], [{"id": "e3"}, "line 3"], [{"id": "e0"}, "line 0"]]
