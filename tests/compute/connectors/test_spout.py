"""BrokerSpout and BrokerBatchSpout against the runtime's contract, on the local log:
what they emit, the positions they report (lowest unacked offset per partition),
replay after fail, and forgetting revoked partitions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from squall.broker import Record, TopicPartition, open_broker
from squall.compute import Config
from squall.compute.connectors import BrokerBatchSpout, BrokerSpout
from squall.compute.context import TopologyContext

TOPIC = "events"


def _context() -> TopologyContext:
    return TopologyContext(
        topology="t",
        component="events",
        task_id=1,
        task_index=0,
        parallelism=1,
        config=Config(),
        component_tasks={"events": [1]},
    )


class Emitted:
    """Stands in for the runtime's collector: records (values, msg_id) in order."""

    def __init__(self) -> None:
        self.tuples: list[tuple[list[Any], Any]] = []

    def emit(self, values: Sequence[Any], msg_id: Any = None, stream: str = "default") -> None:
        self.tuples.append((list(values), msg_id))

    def emit_direct(
        self, task: int, values: Sequence[Any], msg_id: Any = None, stream: str = "default"
    ) -> None:
        raise AssertionError("the broker spouts do not emit direct")


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A local log with topic ``events`` of 2 partitions: p0 holds a0..a4, p1 b0..b2."""
    url = f"local://{tmp_path / 'log'}"
    with open_broker(url) as broker:
        broker.create_topic(TOPIC, 2)
        producer = broker.producer()
        for i in range(5):
            producer.send(TOPIC, f"a{i}".encode(), partition=0)
        for i in range(3):
            producer.send(TOPIC, f"b{i}".encode(), partition=1)
        producer.flush()
        producer.close()
    return url


def _open(spout: BrokerSpout) -> Emitted:
    emitted = Emitted()
    spout.attach(emitted)
    spout.open(_context())
    return emitted


def _pull(spout: BrokerSpout, emitted: Emitted, tuples: int) -> None:
    """Call next_tuple until ``tuples`` tuples were emitted (polls may come back empty
    while the consumer joins its group)."""
    for _ in range(2000):
        if len(emitted.tuples) >= tuples:
            return
        spout.next_tuple()
    raise AssertionError(f"only {len(emitted.tuples)} of {tuples} tuples emitted")


P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


@pytest.fixture
def batch_spout(url: str) -> Iterator[BrokerBatchSpout]:
    spout = BrokerBatchSpout(url, TOPIC, "g", commit="checkpoint")
    yield spout
    spout.close()


def test_batch_spout_emits_one_tuple_per_partition_and_poll(batch_spout: BrokerBatchSpout) -> None:
    emitted = _open(batch_spout)
    _pull(batch_spout, emitted, 2)
    by_partition = {msg_id[0]: values[0] for values, msg_id in emitted.tuples}
    assert {tp: [v[1] for v in values] for tp, values in by_partition.items()} == {
        P0: [b"a0", b"a1", b"a2", b"a3", b"a4"],
        P1: [b"b0", b"b1", b"b2"],
    }
    assert sorted(msg_id for _values, msg_id in emitted.tuples) == [(P0, 0), (P1, 0)]
    # nothing acked yet: both partitions stand at their first batch
    assert batch_spout.snapshot() == {P0: 0, P1: 0}
    batch_spout.ack((P1, 0))
    assert batch_spout.snapshot() == {P0: 0, P1: 3}
    batch_spout.ack((P0, 0))
    assert batch_spout.snapshot() == {P0: 5, P1: 3}


def test_a_failed_batch_is_replayed_whole_and_holds_the_position(
    batch_spout: BrokerBatchSpout,
) -> None:
    emitted = _open(batch_spout)
    _pull(batch_spout, emitted, 2)
    first = {msg_id: values for values, msg_id in emitted.tuples}
    batch_spout.ack((P1, 0))
    batch_spout.fail((P0, 0))
    batch_spout.next_tuple()
    values, msg_id = emitted.tuples[-1]
    assert msg_id == (P0, 0) and values == first[(P0, 0)]
    assert batch_spout.snapshot() == {P0: 0, P1: 3}
    batch_spout.ack((P0, 0))
    assert batch_spout.snapshot() == {P0: 5, P1: 3}


class OddOnly(BrokerBatchSpout):
    def to_values(self, record: Record) -> list[Any] | None:
        return [record.value] if record.offset % 2 else None


def test_records_mapped_to_none_are_left_out_and_an_empty_batch_is_not_emitted(
    url: str,
) -> None:
    spout = OddOnly(url, TOPIC, "g2", commit="checkpoint")
    emitted = _open(spout)
    try:
        _pull(spout, emitted, 2)
        got = {msg_id[0]: values[0] for values, msg_id in emitted.tuples}
        assert got == {P0: [[b"a1"], [b"a3"]], P1: [[b"b1"]]}
        for _values, msg_id in emitted.tuples:
            spout.ack(msg_id)
        assert spout.snapshot() == {P0: 5, P1: 3}
    finally:
        spout.close()


def test_revoked_partitions_are_forgotten_without_their_pending_batches(
    batch_spout: BrokerBatchSpout,
) -> None:
    emitted = _open(batch_spout)
    _pull(batch_spout, emitted, 2)
    batch_spout.fail((P0, 0))
    batch_spout._revoked({P0})  # what the consumer calls in a rebalance
    assert batch_spout.snapshot() == {P1: 0}
    batch_spout.next_tuple()  # the failed batch of the lost partition is not replayed
    assert [msg_id for _v, msg_id in emitted.tuples].count((P0, 0)) == 1


def test_record_spout_reports_the_lowest_unacked_offset(url: str) -> None:
    spout = BrokerSpout(url, TOPIC, "g3", commit="checkpoint")
    emitted = _open(spout)
    try:
        _pull(spout, emitted, 8)
        assert sorted(msg_id for _v, msg_id in emitted.tuples) == [
            *[(P0, i) for i in range(5)],
            *[(P1, i) for i in range(3)],
        ]
        spout.ack((P0, 0))
        spout.ack((P0, 3))
        assert spout.snapshot() == {P0: 1, P1: 0}
        spout.ack((P0, 1))
        spout.ack((P0, 4))
        for offset in range(3):
            spout.ack((P1, offset))
        assert spout.snapshot() == {P0: 2, P1: 3}
        spout.fail((P0, 2))
        spout.next_tuple()
        assert emitted.tuples[-1] == ([None, b"a2"], (P0, 2))
        spout.ack((P0, 2))
        assert spout.snapshot() == {P0: 5, P1: 3}
    finally:
        spout.close()
