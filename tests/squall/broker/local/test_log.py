"""Local-log specifics the Kafka contract does not promise: exact offsets around
transactions, round-robin spreading, durability settings, several writer processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import squall.broker.local as local
from squall.broker import TopicPartition, open_broker
from squall.broker.exceptions import IllegalState, UnknownPartition, UnknownTopic
from squall.broker.local import LocalBroker


def _read_all(broker: LocalBroker, topic: str, expected: int) -> list[tuple[int, int, bytes]]:
    consumer = broker.consumer("reader", [topic])
    out: list[tuple[int, int, bytes]] = []
    for _ in range(200):
        out += [(r.partition, r.offset, r.value) for r in consumer.poll(timeout=0.05)]
        if len(out) >= expected:
            break
    consumer.close()
    return out


def test_public_names() -> None:
    assert sorted(local.__all__) == ["LocalBroker", "LocalConsumer", "LocalProducer", "LogOptions"]


def test_open_broker_makes_the_directory(tmp_path: Path) -> None:
    with open_broker(f"local://{tmp_path / 'a' / 'b'}") as broker:
        assert isinstance(broker, LocalBroker)
        assert (tmp_path / "a" / "b" / "log.sqlite3").is_file()


def test_commits_are_fsynced_in_wal_mode(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    producer = broker.producer()
    conn = producer._conn  # the connection flush() commits on
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    producer.close()
    broker.close()


def test_offsets_stay_dense_across_aborts_and_commits(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("t", 1)
    tp = TopicPartition("t", 0)
    producer = broker.producer(transactional_id="x")
    for n, commit in ((3, True), (4, False), (2, True)):
        producer.begin_transaction()
        for i in range(n):
            producer.send("t", b"%d-%d" % (n, i))
        if commit:
            producer.commit_transaction()
        else:
            producer.abort_transaction()
    assert broker.end_offsets([tp]) == {tp: 5}
    assert _read_all(broker, "t", 5) == [
        (0, 0, b"3-0"),
        (0, 1, b"3-1"),
        (0, 2, b"3-2"),
        (0, 3, b"2-0"),
        (0, 4, b"2-1"),
    ]
    producer.close()
    broker.close()


def test_records_without_key_go_round_robin(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("t", 4)
    producer = broker.producer()
    for i in range(40):
        producer.send("t", b"%d" % i)
    producer.flush()
    assert broker.end_offsets([TopicPartition("t", p) for p in range(4)]) == {
        TopicPartition("t", p): 10 for p in range(4)
    }
    producer.close()
    broker.close()


def test_send_checks_topic_partition_and_types(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("t", 2)
    producer = broker.producer()
    with pytest.raises(UnknownTopic, match="create_topic"):
        producer.send("nope", b"v")
    with pytest.raises(UnknownPartition, match=r"0\.\.1"):
        producer.send("t", b"v", partition=2)
    with pytest.raises(TypeError, match="bytes"):
        producer.send("t", "text")  # type: ignore[arg-type]
    with pytest.raises(UnknownPartition):
        broker.end_offsets([TopicPartition("t", 5)])
    producer.close()
    with pytest.raises(IllegalState, match="closed"):
        producer.send("t", b"v")
    broker.close()


def test_transaction_misuse_is_reported(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("t", 1)
    plain = broker.producer()
    with pytest.raises(IllegalState, match="transactional_id"):
        plain.begin_transaction()
    tx = broker.producer(transactional_id="a")
    with pytest.raises(IllegalState, match="begin_transaction"):
        tx.send("t", b"v")
    tx.begin_transaction()
    with pytest.raises(IllegalState, match="already open"):
        tx.begin_transaction()
    tx.abort_transaction()
    tx.abort_transaction()  # nothing open: a no-op, so except-blocks can always abort
    for p in (plain, tx):
        p.close()
    broker.close()


def test_a_fenced_producer_stays_fenced(tmp_path: Path) -> None:
    from squall.broker.exceptions import ProducerFenced

    broker = LocalBroker(tmp_path)
    broker.create_topic("t", 1)
    old = broker.producer(transactional_id="a")
    new = broker.producer(transactional_id="a")
    old.begin_transaction()
    old.send("t", b"v")
    with pytest.raises(ProducerFenced):
        old.commit_transaction()
    with pytest.raises(ProducerFenced):
        old.begin_transaction()
    assert broker.end_offsets([TopicPartition("t", 0)]) == {TopicPartition("t", 0): 0}
    for p in (old, new):
        p.close()
    broker.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from squall.broker.local import LocalBroker
    broker = LocalBroker(sys.argv[1])
    producer = broker.producer()
    for batch in range(20):
        for i in range(100):
            producer.send("t", b"%s-%d-%d" % (sys.argv[2].encode(), batch, i), partition=0)
        producer.flush()
    producer.close()
    """
)


def test_writers_in_several_processes_get_distinct_dense_offsets(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    broker.create_topic("t", 1)
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name])
        for name in ("a", "b", "c")
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0]
    records = _read_all(broker, "t", 6000)
    assert [offset for _, offset, _ in records] == list(range(6000))
    values = [v for _, _, v in records]
    assert sorted(values) == sorted(
        b"%s-%d-%d" % (n, b, i) for n in (b"a", b"b", b"c") for b in range(20) for i in range(100)
    )
    for name in (b"a", b"b", b"c"):  # each writer's records keep their order
        mine = [v for v in values if v.startswith(name + b"-")]
        assert mine == [b"%s-%d-%d" % (name, b, i) for b in range(20) for i in range(100)]
    broker.close()
