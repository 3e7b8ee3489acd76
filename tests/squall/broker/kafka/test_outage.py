"""Kafka going away and coming back, on a private broker (free ports, own stack dir).

What the pipeline relies on when the broker stops mid-run: calls fail in bounded time
with BrokerUnavailable (never hang), a transaction whose commit could not be confirmed
is settled by the next producer with the same transactional_id, atomically (its
records are visible exactly when its offsets are committed), and a consumer reads on
after the restart without losing records.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.broker import BrokerUnavailable, Record, TopicPartition
from squall.broker.kafka import KafkaBroker
from squall.deploy.stack import StackPaths, kafka, paths, process
from squall.settings import load_settings

pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("java_and_maven")]

_FAST = {"delivery_timeout_ms": 4000, "request_timeout_ms": 2000, "max_block_ms": 4000}


@pytest.fixture
def private(tmp_path: Path) -> Iterator[kafka.KafkaStack]:
    shared = paths(load_settings())
    socks = [socket.socket() for _ in range(2)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    stack = kafka.KafkaStack(
        StackPaths(tmp_path / "stack", shared.jars, shared.maven_repo),
        port=ports[0],
        controller_port=ports[1],
        heap="256m",
    )
    kafka.up(load_settings(), stack)
    try:
        yield stack
    finally:
        process.stop(stack.service(), timeout=30)


def _read_all(broker: KafkaBroker, topic: str, group: str) -> list[Record]:
    """Every committed record of ``topic``: read until the member, assigned, gets three
    empty polls in a row (read_committed offsets have gaps, so no end offset to await)."""
    reader = broker.consumer(group, [topic])
    got: list[Record] = []
    deadline = time.monotonic() + 30
    while not reader.assignment() and time.monotonic() < deadline:
        got.extend(reader.poll(timeout=0.2))
    empty = 0
    while empty < 3 and time.monotonic() < deadline:
        batch = reader.poll(timeout=0.3)
        got.extend(batch)
        empty = 0 if batch else empty + 1
    reader.close()
    return got


def test_an_outage_fails_fast_and_a_pending_transaction_settles_atomically(
    private: kafka.KafkaStack,
) -> None:
    settings = load_settings()
    broker = KafkaBroker(private.bootstrap, **_FAST)
    broker.create_topic("src", 1)
    broker.create_topic("out", 1)
    feeder = broker.producer()
    for i in range(10):
        feeder.send("src", b"in-%d" % i)
    feeder.flush()
    member = broker.consumer("workers", ["src"])
    seen: list[Record] = []
    deadline = time.monotonic() + 30
    while len(seen) < 10 and time.monotonic() < deadline:
        seen.extend(member.poll(timeout=0.2))
    assert [r.value for r in seen] == [b"in-%d" % i for i in range(10)]

    sink = broker.producer(transactional_id="sink-0")
    sink.begin_transaction()
    sink.send("out", b"aggregate")
    sink.send_offsets_to_transaction({TopicPartition("src", 0): 10}, "workers")
    sink.flush()
    kafka.down(settings, private)

    began = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        sink.commit_transaction()
    feeder.send("src", b"lost-in-outage")
    with pytest.raises(BrokerUnavailable):
        feeder.flush()
    assert time.monotonic() - began < 30  # bounded, not a hang
    sink.abort_transaction()  # nothing open any more: a no-op, as the sink's except does
    with pytest.raises(BrokerUnavailable):  # the outcome is unknown: this one is done
        sink.begin_transaction()
    sink.close()

    kafka.up(settings, private)
    successor = broker.producer(transactional_id="sink-0")  # settles the pending one
    committed = member.committed(TopicPartition("src", 0))
    out = [r.value for r in _read_all(broker, "out", "check-out")]
    assert (committed, out) in [(10, [b"aggregate"]), (None, [])]  # all or nothing

    # the producer and the consumer carry on after the restart; nothing new is lost
    for i in range(5):
        feeder.send("src", b"after-%d" % i)
    feeder.flush()
    after: list[Record] = []
    deadline = time.monotonic() + 60
    while len(after) < 5 and time.monotonic() < deadline:
        after.extend(r for r in member.poll(timeout=0.2) if r.value.startswith(b"after-"))
    assert [r.value for r in after] == [b"after-%d" % i for i in range(5)]
    successor.begin_transaction()
    successor.send("out", b"next")
    successor.commit_transaction()
    assert [r.value for r in _read_all(broker, "out", "check-again")] == [*out, b"next"]
    for closeable in (successor, feeder, member):
        closeable.close()
    broker.close()
