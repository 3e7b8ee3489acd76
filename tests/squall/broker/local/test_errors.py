"""SQLite failures reach users as BrokerError subclasses that say what to do."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.broker import BrokerError, BrokerUnavailable, TopicPartition, TransactionAborted
from squall.broker.exceptions import CommitFailed, IllegalState
from squall.broker.local import LocalBroker

Locked = tuple[LocalBroker, sqlite3.Connection]


def test_a_file_that_is_not_a_log(tmp_path: Path) -> None:
    (tmp_path / "log.sqlite3").write_bytes(b"definitely not sqlite " * 100)
    with pytest.raises(BrokerError, match=r"not a readable Squall local log.*move it away"):
        LocalBroker(tmp_path)


def test_a_directory_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(BrokerUnavailable, match="cannot create the local log directory"):
        LocalBroker(tmp_path / "file" / "log")


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Locked]:
    """A broker with a short busy timeout, and a raw connection to lock the log with."""
    broker = LocalBroker(tmp_path, busy_timeout=0.2)
    broker.create_topic("t", 1)
    holder = sqlite3.connect(tmp_path / "log.sqlite3", isolation_level=None)
    yield broker, holder
    holder.close()
    broker.close()


def _count(broker: LocalBroker) -> int:
    tp = TopicPartition("t", 0)
    return broker.end_offsets([tp])[tp]


def test_flush_while_locked_keeps_the_buffer_for_a_retry(locked: Locked) -> None:
    broker, holder = locked
    producer = broker.producer()
    producer.send("t", b"once")
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(BrokerUnavailable, match="locked by another process"):
        producer.flush()
    holder.execute("ROLLBACK")
    producer.flush()
    producer.flush()
    assert _count(broker) == 1  # written exactly once
    producer.close()


def test_commit_while_locked_aborts_the_whole_transaction(locked: Locked) -> None:
    broker, holder = locked
    producer = broker.producer(transactional_id="w")
    producer.begin_transaction()
    producer.send("t", b"lost")
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(TransactionAborted, match="nothing in it is visible"):
        producer.commit_transaction()
    holder.execute("ROLLBACK")
    producer.abort_transaction()  # the usual except-branch: harmless
    producer.begin_transaction()
    producer.send("t", b"kept")
    producer.commit_transaction()
    assert _count(broker) == 1
    producer.close()


def test_commit_of_a_partition_another_member_owns_is_refused(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("t", 2)
    a, b = broker.consumer("g", ["t"]), broker.consumer("g", ["t"])
    while not (a.assignment() and b.assignment()):
        a.poll(timeout=0.05)
        b.poll(timeout=0.05)
    (theirs,) = b.assignment()
    with pytest.raises(CommitFailed, match="belong to another member"):
        a.commit({theirs: 5})
    assert a.committed(theirs) is None
    (mine,) = a.assignment()
    a.commit({mine: 5})
    assert b.committed(mine) == 5
    for c in (a, b):
        c.close()
    broker.close()


def test_misuse_of_a_consumer(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("t", 1)
    with pytest.raises(TypeError, match="list of topic names"):
        broker.consumer("g", "t")
    consumer = broker.consumer("g", ["t"])
    with pytest.raises(IllegalState, match="not assigned"):
        consumer.seek(TopicPartition("t", 0), 0)
    consumer.close()
    consumer.close()  # idempotent
    with pytest.raises(IllegalState, match="closed"):
        consumer.poll()
    broker.close()
    with pytest.raises(IllegalState, match="closed"):
        broker.partitions("t")


def test_a_failing_callback_surfaces_from_poll_after_the_rebalance(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("t", 1)

    def explode(tps: set[TopicPartition]) -> None:
        raise RuntimeError("callback failed")

    consumer = broker.consumer("g", ["t"], on_assign=explode)
    with pytest.raises(RuntimeError, match="callback failed"):
        while True:
            consumer.poll(timeout=0.05)
    assert consumer.assignment() == {TopicPartition("t", 0)}
    consumer.close()
    broker.close()
