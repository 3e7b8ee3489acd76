"""Group membership details of the local log: when a member joins and when it is lost."""

from __future__ import annotations

import time
from pathlib import Path

from squall.broker import TopicPartition
from squall.broker.local import LocalBroker

ALL = {TopicPartition("t", 0), TopicPartition("t", 1)}


def test_a_member_joins_at_its_first_poll(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, rebalance_check_interval=0.05)
    broker.create_topic("t", 2)
    active = broker.consumer("g", ["t"])
    idle = broker.consumer("g", ["t"])  # e.g. made only to read committed offsets
    assert idle.committed(TopicPartition("t", 0)) is None
    end = time.monotonic() + 0.5  # ten group checks by the active member
    while time.monotonic() < end:
        active.poll(timeout=0.05)
    assert active.assignment() == ALL
    idle.poll(timeout=0.05)  # now it joins, and gets a share
    while len(active.assignment()) != 1:
        active.poll(timeout=0.05)
        idle.poll(timeout=0.05)
    assert active.assignment() | idle.assignment() == ALL
    for c in (active, idle):
        c.close()
    broker.close()


def test_a_member_that_stops_polling_loses_its_partitions_and_rejoins(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, session_timeout=0.6, max_poll_interval=0.3)
    broker.create_topic("t", 2)
    revoked: list[set[TopicPartition]] = []
    stalled = broker.consumer("g", ["t"], on_revoke=revoked.append)
    other = broker.consumer("g", ["t"])
    deadline = time.monotonic() + 30
    while not (len(stalled.assignment()) == 1 and len(other.assignment()) == 1):
        assert time.monotonic() < deadline
        stalled.poll(timeout=0.05)
        other.poll(timeout=0.05)
    held = stalled.assignment()
    revoked.clear()
    while other.assignment() != ALL:  # stalled's heartbeats stop, then it is expired
        assert time.monotonic() < deadline
        other.poll(timeout=0.05)
    stalled.poll(timeout=0.05)  # it learns it was expired: its partitions are revoked
    assert revoked[0] == held
    while not (len(stalled.assignment()) == 1 and len(other.assignment()) == 1):
        assert time.monotonic() < deadline
        stalled.poll(timeout=0.05)
        other.poll(timeout=0.05)
    for c in (stalled, other):
        c.close()
    broker.close()


def test_a_topic_created_after_subscribing_is_picked_up(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    consumer = broker.consumer("g", ["later"])
    assert consumer.poll(timeout=0.1) == []
    assert consumer.assignment() == set()
    broker.create_topic("later", 1)
    producer = broker.producer()
    producer.send("later", b"v")
    producer.flush()
    records = []
    deadline = time.monotonic() + 30
    while not records:
        assert time.monotonic() < deadline
        records = consumer.poll(timeout=0.1)
    assert [(r.topic, r.offset, r.value) for r in records] == [("later", 0, b"v")]
    consumer.close()
    producer.close()
    broker.close()
