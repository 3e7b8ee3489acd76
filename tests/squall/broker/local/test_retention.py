"""Retention drops a prefix of each partition by age or size and never renumbers."""

from __future__ import annotations

import time
from pathlib import Path

from squall.broker import TopicPartition
from squall.broker.local import LocalBroker

TP0 = TopicPartition("t", 0)


def _offsets_and_values(broker: LocalBroker, group: str) -> list[tuple[int, bytes]]:
    consumer = broker.consumer(group, ["t"])
    out: list[tuple[int, bytes]] = []
    while True:
        records = consumer.poll(timeout=0.3)
        if not records and consumer.assignment():
            break
        out += [(r.offset, r.value) for r in records]
    consumer.close()
    return out


def _produce(broker: LocalBroker, values: list[bytes]) -> None:
    producer = broker.producer()
    for v in values:
        producer.send("t", v)
    producer.flush()
    producer.close()


def test_records_older_than_the_retention_go(tmp_path: Path) -> None:
    hour = 3600 * 1000
    broker = LocalBroker(tmp_path, retention_ms=hour, retention_check_interval=1e9)
    broker.create_topic("t", 1)
    _produce(broker, [b"old-%d" % i for i in range(30)])
    old_by = time.time_ns() // 1_000_000  # every old record's timestamp is <= old_by
    while time.time_ns() // 1_000_000 <= old_by:
        pass  # the clock moves on within a millisecond
    _produce(broker, [b"new-%d" % i for i in range(5)])  # timestamps > old_by
    written_by = old_by + 1

    # an hour after the old batch but before the new one has aged: only the old ones go
    assert broker.enforce_retention(now_ms=written_by + hour) == 30
    assert broker.beginning_offsets([TP0]) == {TP0: 30}
    assert broker.end_offsets([TP0]) == {TP0: 35}
    assert _offsets_and_values(broker, "g1") == [(30 + i, b"new-%d" % i) for i in range(5)]
    assert broker.enforce_retention(now_ms=written_by + hour) == 0  # idempotent
    # everything expired: the partition is empty and offsets carry on
    assert broker.enforce_retention(now_ms=written_by + 3 * hour) == 5
    _produce(broker, [b"later"])
    assert _offsets_and_values(broker, "g2") == [(35, b"later")]
    broker.close()


def test_size_retention_keeps_the_newest_bytes_per_partition(tmp_path: Path) -> None:
    broker = LocalBroker(
        tmp_path, retention_ms=None, retention_bytes=1000, retention_check_interval=1e9
    )
    broker.create_topic("t", 1)
    _produce(broker, [b"%03d" % i + b"x" * 97 for i in range(100)])  # 100 bytes each
    assert broker.enforce_retention() == 90
    kept = _offsets_and_values(broker, "g")
    assert [offset for offset, _ in kept] == list(range(90, 100))
    assert [v[:3] for _, v in kept] == [b"%03d" % i for i in range(90, 100)]
    broker.close()


def test_a_member_behind_the_log_start_resumes_at_it(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, retention_bytes=10, retention_check_interval=1e9)
    broker.create_topic("t", 1)
    member = broker.consumer("g", ["t"])
    member.commit({TP0: 2})
    member.close()
    _produce(broker, [bytes([65 + i]) for i in range(20)])  # 1 byte each: 10 survive
    broker.enforce_retention()
    assert _offsets_and_values(broker, "g") == [(i, bytes([65 + i])) for i in range(10, 20)]
    broker.close()


def test_producers_run_retention_as_they_flush(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, retention_bytes=50, retention_check_interval=0)
    broker.create_topic("t", 2)
    producer = broker.producer()
    for batch in range(10):
        for i in range(20):
            producer.send("t", b"%d-%02d" % (batch, i), partition=i % 2)  # 4 bytes each
        producer.flush()
    producer.close()
    starts = broker.beginning_offsets([TopicPartition("t", p) for p in range(2)])
    assert starts == {TopicPartition("t", 0): 88, TopicPartition("t", 1): 88}  # 12 x 4 <= 50
    broker.close()
