"""Crash safety: kill -9 a writer after and during a commit; kill -9 a group member."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from squall.broker import TopicPartition, TransactionAborted
from squall.broker.local import LocalBroker


@contextmanager
def _child(code: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def _wait_for_line(proc: subprocess.Popen[str], wanted: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == wanted:
            return
    raise AssertionError(f"child exited (rc={proc.wait()}) before printing {wanted!r}")


def _values(broker: LocalBroker, topic: str) -> list[bytes]:
    """Everything in ``topic``, read until a poll comes back empty."""
    consumer = broker.consumer("audit", [topic])
    values: list[bytes] = []
    while True:
        records = consumer.poll(max_records=5000, timeout=0.5)
        if not records and consumer.assignment():
            break
        values += [r.value for r in records]
    consumer.close()
    return values


_COMMIT_THEN_HANG = """
import sys
from squall.broker import TopicPartition
from squall.broker.local import LocalBroker
broker = LocalBroker(sys.argv[1])
tx = broker.producer(transactional_id="worker")
tx.begin_transaction()
for i in range(1000):
    tx.send("out", b"tx-%d" % i)
tx.send_offsets_to_transaction({TopicPartition("in", 0): 1000}, "workers")
tx.commit_transaction()
plain = broker.producer()
for i in range(500):
    plain.send("out", b"plain-%d" % i)
plain.flush()
print("durable", flush=True)
sys.stdin.read()  # hang until killed
"""


def test_committed_writes_survive_kill_9(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("in", 1)
    broker.create_topic("out", 1)
    with _child(_COMMIT_THEN_HANG, str(tmp_path)) as proc:
        _wait_for_line(proc, "durable")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    reopened = LocalBroker(tmp_path)
    assert _values(reopened, "out") == [b"tx-%d" % i for i in range(1000)] + [
        b"plain-%d" % i for i in range(500)
    ]
    member = reopened.consumer("workers", ["in"])
    assert member.committed(TopicPartition("in", 0)) == 1000
    member.close()
    reopened.close()
    broker.close()


_COMMIT_UNTIL_KILLED = """
import sys
from squall.broker import TopicPartition
from squall.broker.local import LocalBroker, LocalProducer
broker = LocalBroker(sys.argv[1])
tx = broker.producer(transactional_id="worker")
PAD = b"x" * 200  # 4 MB per transaction: more than SQLite's page cache, so it spills
txn = 1
write_buffer = LocalProducer._write_buffer

def write_then_hang(self, conn, now_ms):
    write_buffer(self, conn, now_ms)
    if txn == 3:  # the records are in, the SQLite transaction is open: wait for kill -9
        print("inside commit 3", flush=True)
        sys.stdin.read()

LocalProducer._write_buffer = write_then_hang
while True:
    tx.begin_transaction()
    for i in range(20000):
        tx.send("out", b"%d:%d:" % (txn, i) + PAD, partition=i % 2)
    tx.send_offsets_to_transaction({TopicPartition("in", 0): txn}, "workers")
    tx.commit_transaction()
    txn += 1
"""


def test_kill_9_during_commits_leaves_only_whole_transactions(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("in", 1)
    broker.create_topic("out", 2)
    with _child(_COMMIT_UNTIL_KILLED, str(tmp_path)) as proc:
        _wait_for_line(proc, "inside commit 3")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    reopened = LocalBroker(tmp_path)
    member = reopened.consumer("workers", ["in"])
    committed = member.committed(TopicPartition("in", 0))
    member.close()
    assert committed == 2  # 1 and 2 committed; 3 was killed inside its SQLite transaction
    values = _values(reopened, "out")
    per_txn: dict[int, set[int]] = {}
    for v in values:
        txn_text, i_text, pad = v.split(b":")
        assert pad == b"x" * 200
        txn, i = int(txn_text), int(i_text)
        per_txn.setdefault(txn, set()).add(i)
    assert sorted(per_txn) == [1, 2]
    assert all(indexes == set(range(20000)) for indexes in per_txn.values())
    assert len(values) == 40000
    # the log is still writable and offsets continue where the committed data ends
    producer = reopened.producer()
    producer.send("out", b"after", partition=0)
    producer.flush()
    producer.close()
    tp = TopicPartition("out", 0)
    assert reopened.end_offsets([tp]) == {tp: 20001}
    reopened.close()
    broker.close()


_MEMBER = """
import sys
from squall.broker.local import LocalBroker
broker = LocalBroker(sys.argv[1], session_timeout=1.0)
consumer = broker.consumer("g", ["t"])
while not consumer.assignment():
    consumer.poll(timeout=0.05)
print("assigned", flush=True)
while True:
    consumer.poll(timeout=0.05)
"""


def test_a_killed_member_is_expired_and_its_partitions_move(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, session_timeout=1.0)
    broker.create_topic("t", 4)
    everything = {TopicPartition("t", p) for p in range(4)}
    survivor = broker.consumer("g", ["t"])
    with _child(_MEMBER, str(tmp_path)) as proc:
        _wait_for_line(proc, "assigned")
        deadline = time.monotonic() + 30
        while len(survivor.assignment()) != 2:  # the child holds the other two
            assert time.monotonic() < deadline
            survivor.poll(timeout=0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        while survivor.assignment() != everything:
            assert time.monotonic() < deadline, "the dead member's partitions never moved"
            survivor.poll(timeout=0.05)
    survivor.close()
    broker.close()


_WORKER = """
import sys
from squall.broker import TopicPartition
from squall.broker.local import LocalBroker
broker = LocalBroker(sys.argv[1], session_timeout=3.0)
producer = broker.producer(transactional_id="worker-" + sys.argv[2])
consumer = broker.consumer("workers", ["in"])
announced = False
while True:
    records = consumer.poll(max_records=200, timeout=0.1)
    if consumer.assignment() and not announced:
        print("assigned", flush=True)
        announced = True
    if not records:
        continue
    producer.begin_transaction()
    offsets = {}
    for r in records:
        producer.send("out", r.value)
        offsets[TopicPartition(r.topic, r.partition)] = r.offset + 1
    producer.send_offsets_to_transaction(offsets, "workers")
    producer.commit_transaction()
"""


def test_consume_transform_produce_is_exactly_once_across_a_worker_kill(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("in", 4)
    broker.create_topic("out", 1)
    out = TopicPartition("out", 0)
    producer = broker.producer()
    sent: list[bytes] = []

    def produce(n: int) -> None:
        for _ in range(n):
            sent.append(b"event-%d" % len(sent))
            producer.send("in", sent[-1], key=sent[-1])
        producer.flush()

    def wait_for_output(count: int) -> None:
        deadline = time.monotonic() + 60
        while broker.end_offsets([out])[out] < count:
            assert time.monotonic() < deadline, "the workers stopped making progress"
            time.sleep(0.02)

    with (
        _child(_WORKER, str(tmp_path), "a") as a,
        _child(_WORKER, str(tmp_path), "b") as b,
    ):
        _wait_for_line(a, "assigned")
        _wait_for_line(b, "assigned")
        produce(3000)
        wait_for_output(1000)
        os.kill(a.pid, signal.SIGKILL)  # mid-stream: a's open transaction dies with it
        a.wait(timeout=30)
        produce(3000)
        with _child(_WORKER, str(tmp_path), "a") as restarted:
            _wait_for_line(restarted, "assigned")
            produce(2000)
            wait_for_output(len(sent))
    assert broker.end_offsets([out])[out] == len(sent)  # no duplicates (offsets are dense)
    assert sorted(_values(broker, "out")) == sorted(sent)
    producer.close()
    broker.close()


def test_offsets_of_partitions_another_process_took_over_are_not_committed(
    tmp_path: Path,
) -> None:
    broker = LocalBroker(tmp_path, session_timeout=1.0)
    broker.create_topic("t", 4)
    broker.create_topic("out", 1)
    here = broker.consumer("g", ["t"])
    producer = broker.producer(transactional_id="here")
    with _child(_MEMBER, str(tmp_path)) as proc:
        _wait_for_line(proc, "assigned")
        deadline = time.monotonic() + 30
        while len(here.assignment()) != 2:  # the child process holds the other two
            assert time.monotonic() < deadline
            here.poll(timeout=0.05)
        theirs = {TopicPartition("t", p) for p in range(4)} - here.assignment()
        # e.g. this process stalled, was expired, and its partitions moved: a late commit
        producer.begin_transaction()
        producer.send("out", b"late")
        producer.send_offsets_to_transaction(dict.fromkeys(theirs, 7), "g")
        with pytest.raises(TransactionAborted, match="another process"):
            producer.commit_transaction()
        producer.begin_transaction()
        producer.send("out", b"mine")
        producer.send_offsets_to_transaction(dict.fromkeys(here.assignment(), 7), "g")
        producer.commit_transaction()
    assert [here.committed(tp) for tp in sorted(theirs)] == [None, None]
    assert {here.committed(tp) for tp in here.assignment()} == {7}
    assert _values(broker, "out") == [b"mine"]
    here.close()
    producer.close()
    broker.close()
