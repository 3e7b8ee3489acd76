"""The broker contract (squall.broker.base), run against every backend in BACKENDS.

Nothing here may depend on one backend: no internals, no local-only options, no
assumptions that only hold on the local log (e.g. dense offsets across transactions:
Kafka spends an offset on every commit marker).
"""

from __future__ import annotations

import random
import threading
import warnings
from collections.abc import Callable

import pytest

from squall.broker import Broker, Consumer, Record, TopicPartition, TransactionAborted
from squall.broker.exceptions import UnknownTopic

with warnings.catch_warnings():  # kafka-python's own import-time DeprecationWarning
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.partitioner.default import DefaultPartitioner

Poll = Callable[..., None]


def _tps(topic: str, n: int) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in range(n)]


def test_create_topic_is_idempotent(broker: Broker, unique: Callable[[str], str]) -> None:
    topic = unique("t")
    broker.create_topic(topic, 3)
    broker.create_topic(topic, 3)
    assert broker.partitions(topic) == 3
    assert broker.end_offsets(_tps(topic, 3)) == dict.fromkeys(_tps(topic, 3), 0)


def test_unknown_topic(broker: Broker, unique: Callable[[str], str]) -> None:
    missing = unique("missing")
    with pytest.raises(UnknownTopic):
        broker.partitions(missing)
    with pytest.raises(UnknownTopic):
        broker.end_offsets([TopicPartition(missing, 0)])


def test_records_come_back_in_order_with_dense_offsets(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    topic = new_topic(3)
    sent: dict[int, list[tuple[bytes | None, bytes]]] = {0: [], 1: [], 2: []}
    producer = broker.producer()
    for i in range(300):
        key = None if i % 5 == 0 else b"k%d" % i
        value = b"value-%d" % i
        producer.send(topic, value, key=key, partition=i % 3)
        sent[i % 3].append((key, value))
    producer.flush()
    assert broker.end_offsets(_tps(topic, 3)) == dict.fromkeys(_tps(topic, 3), 100)

    consumer = broker.consumer(unique("g"), [topic])
    got: dict[int, list[Record]] = {}
    poll([consumer], lambda: len(got.get(0, [])) >= 300, got)
    records = got[0]
    assert len(records) == 300
    for p in range(3):
        mine = [r for r in records if r.partition == p]
        assert [r.offset for r in mine] == list(range(100))
        assert [(r.key, r.value) for r in mine] == sent[p]
        assert all(r.topic == topic and r.timestamp_ms > 0 for r in mine)
    consumer.close()
    producer.close()


class _Cluster:
    """Just the metadata DefaultPartitioner asks for: every partition is available."""

    def __init__(self, topic: str, n: int):
        self._topic, self._n = topic, n

    def topics(self) -> set[str]:
        return {self._topic}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self._n))

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self._n))


def test_key_picks_the_partition_kafka_python_would(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    topic = new_topic(7)
    rng = random.Random(4)
    keys = [b"web", b"api", b"checkout", b""] + [
        rng.randbytes(rng.randrange(1, 40)) for _ in range(96)
    ]
    cluster = _Cluster(topic, 7)
    expected = {k: DefaultPartitioner().partition(topic, k, k, b"v", b"v", cluster) for k in keys}
    assert len(set(expected.values())) == 7  # the keys exercise every partition
    producer = broker.producer()
    for k in keys:
        producer.send(topic, b"v", key=k)
    producer.flush()
    consumer = broker.consumer(unique("g"), [topic])
    got: dict[int, list[Record]] = {}
    poll([consumer], lambda: len(got.get(0, [])) >= len(keys), got)
    assert {r.key: r.partition for r in got[0]} == expected
    consumer.close()
    producer.close()


def test_records_without_key_each_arrive_once(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    topic = new_topic(4)
    producer = broker.producer()
    values = [b"%d" % i for i in range(200)]
    for v in values:
        producer.send(topic, v)
    producer.flush()
    consumer = broker.consumer(unique("g"), [topic])
    got: dict[int, list[Record]] = {}
    poll([consumer], lambda: len(got.get(0, [])) >= 200, got)
    assert sorted(r.value for r in got[0]) == sorted(values)
    assert all(r.key is None for r in got[0])
    consumer.close()
    producer.close()


def test_committed_transaction_publishes_records_and_offsets_together(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    source, out, group = new_topic(2), new_topic(1), unique("g")
    reader = broker.consumer(unique("reader"), [out])
    producer = broker.producer(transactional_id=unique("tx"))
    producer.begin_transaction()
    for i in range(10):
        producer.send(out, b"row-%d" % i)
    producer.send_offsets_to_transaction(
        {TopicPartition(source, 0): 7, TopicPartition(source, 1): 3}, group
    )
    producer.flush()  # durable or not, nothing is visible before the commit
    assert reader.poll(timeout=0.5) == []
    member = broker.consumer(group, [source])
    assert member.committed(TopicPartition(source, 0)) is None

    producer.commit_transaction()
    got: dict[int, list[Record]] = {}
    poll([reader], lambda: len(got.get(0, [])) >= 10, got)
    assert [r.value for r in got[0]] == [b"row-%d" % i for i in range(10)]
    assert member.committed(TopicPartition(source, 0)) == 7
    assert member.committed(TopicPartition(source, 1)) == 3
    for c in (reader, member):
        c.close()
    producer.close()


def test_aborted_transaction_is_never_visible(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    source, out, group = new_topic(1), new_topic(1), unique("g")
    producer = broker.producer(transactional_id=unique("tx"))
    producer.begin_transaction()
    for i in range(5):
        producer.send(out, b"aborted-%d" % i)
    producer.send_offsets_to_transaction({TopicPartition(source, 0): 99}, group)
    producer.abort_transaction()
    producer.begin_transaction()
    for i in range(3):
        producer.send(out, b"kept-%d" % i)
    producer.send_offsets_to_transaction({TopicPartition(source, 0): 4}, group)
    producer.commit_transaction()

    reader = broker.consumer(unique("reader"), [out])
    got: dict[int, list[Record]] = {}
    poll([reader], lambda: len(got.get(0, [])) >= 3, got)
    reader.poll(timeout=0.3)  # anything after the kept records would show up here
    got[0].extend(reader.poll(timeout=0.3))
    assert [r.value for r in got[0]] == [b"kept-0", b"kept-1", b"kept-2"]
    member = broker.consumer(group, [source])
    assert member.committed(TopicPartition(source, 0)) == 4
    for c in (reader, member):
        c.close()
    producer.close()


def test_a_newer_producer_fences_the_older_one(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    out, txid = new_topic(1), unique("tx")
    zombie = broker.producer(transactional_id=txid)
    zombie.begin_transaction()
    zombie.send(out, b"from-zombie")
    successor = broker.producer(transactional_id=txid)
    with pytest.raises(TransactionAborted):
        zombie.commit_transaction()
    successor.begin_transaction()
    successor.send(out, b"from-successor")
    successor.commit_transaction()

    reader = broker.consumer(unique("reader"), [out])
    got: dict[int, list[Record]] = {}
    poll([reader], lambda: len(got.get(0, [])) >= 1, got)
    got[0].extend(reader.poll(timeout=0.3))
    assert [r.value for r in got[0]] == [b"from-successor"]
    reader.close()
    successor.close()
    zombie.close()


def test_group_members_split_partitions_and_take_over_when_one_leaves(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    topic, group = new_topic(4), unique("g")
    everything = set(_tps(topic, 4))
    events: dict[str, list[tuple[str, set[TopicPartition]]]] = {"a": [], "b": []}

    def member(name: str) -> Consumer:
        return broker.consumer(
            group,
            [topic],
            on_assign=lambda tps: events[name].append(("assign", set(tps))),
            on_revoke=lambda tps: events[name].append(("revoke", set(tps))),
        )

    a, b = member("a"), member("b")

    def split() -> bool:
        sa, sb = a.assignment(), b.assignment()
        return bool(sa) and bool(sb) and not sa & sb and sa | sb == everything

    poll([a, b], split)
    assert events["a"][-1] == ("assign", a.assignment())
    assert events["b"][-1] == ("assign", b.assignment())

    producer = broker.producer()
    for i in range(40):
        producer.send(topic, b"first-%d" % i, partition=i % 4)
    producer.flush()
    got: dict[int, list[Record]] = {}
    poll([a, b], lambda: sum(len(v) for v in got.values()) >= 40, got)
    assert {TopicPartition(topic, r.partition) for r in got[0]} <= a.assignment()
    assert {TopicPartition(topic, r.partition) for r in got[1]} <= b.assignment()
    assert sorted(r.value for r in got[0] + got[1]) == sorted(b"first-%d" % i for i in range(40))
    for c, records in ((a, got[0]), (b, got[1])):
        c.commit({TopicPartition(topic, r.partition): r.offset + 1 for r in records})

    b_partitions = b.assignment()
    b.close()
    assert events["b"][-1] == ("revoke", b_partitions)
    revokes_before = sum(1 for kind, _ in events["a"] if kind == "revoke")
    poll([a], lambda: a.assignment() == everything)
    kinds = [kind for kind, _ in events["a"]]
    assert kinds.count("revoke") > revokes_before
    assert events["a"][-1] == ("assign", everything)

    # a reads the departed member's partitions on from the offsets it committed
    for i in range(8):
        producer.send(topic, b"second-%d" % i, partition=i % 4)
    producer.flush()
    after: dict[int, list[Record]] = {}
    poll([a], lambda: len(after.get(0, [])) >= 8, after)
    after[0].extend(a.poll(timeout=0.3))
    assert sorted(r.value for r in after[0]) == sorted(b"second-%d" % i for i in range(8))
    a.close()
    producer.close()


def test_a_new_member_resumes_from_the_committed_offset(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    topic, group = new_topic(1), unique("g")
    tp = TopicPartition(topic, 0)
    producer = broker.producer()
    for i in range(20):
        producer.send(topic, b"%d" % i)
    producer.flush()
    first = broker.consumer(group, [topic])
    assert first.committed(tp) is None
    assert broker.committed(group, tp) is None
    got: dict[int, list[Record]] = {}
    poll([first], lambda: len(got.get(0, [])) >= 20, got)
    first.commit({tp: 12})
    assert first.committed(tp) == 12
    assert broker.committed(group, tp) == 12  # read from outside the group
    first.close()

    second = broker.consumer(group, [topic])
    resumed: dict[int, list[Record]] = {}
    poll([second], lambda: len(resumed.get(0, [])) >= 8, resumed)
    assert [r.offset for r in resumed[0]] == list(range(12, 20))
    other = broker.consumer(unique("g"), [topic])  # another group starts at the beginning
    fresh: dict[int, list[Record]] = {}
    poll([other], lambda: len(fresh.get(0, [])) >= 20, fresh)
    assert [r.offset for r in fresh[0]] == list(range(20))
    for c in (second, other):
        c.close()
    producer.close()


def test_seek_replays_from_an_offset(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    topic = new_topic(1)
    tp = TopicPartition(topic, 0)
    producer = broker.producer()
    for i in range(10):
        producer.send(topic, b"%d" % i)
    producer.flush()
    consumer = broker.consumer(unique("g"), [topic])
    got: dict[int, list[Record]] = {}
    poll([consumer], lambda: len(got.get(0, [])) >= 10, got)
    consumer.seek(tp, 3)
    again: dict[int, list[Record]] = {}
    poll([consumer], lambda: len(again.get(0, [])) >= 7, again)
    assert [(r.offset, r.value) for r in again[0]] == [(i, b"%d" % i) for i in range(3, 10)]
    consumer.close()
    producer.close()


def test_poll_waits_for_records_produced_meanwhile(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    topic = new_topic(1)
    consumer = broker.consumer(unique("g"), [topic])
    poll([consumer], lambda: bool(consumer.assignment()))
    go = threading.Event()

    def produce() -> None:
        go.wait(10)
        producer = broker.producer()
        producer.send(topic, b"late")
        producer.flush()
        producer.close()

    thread = threading.Thread(target=produce)
    thread.start()
    go.set()
    records = consumer.poll(timeout=20)
    thread.join()
    assert [r.value for r in records] == [b"late"]
    consumer.close()


def test_offsets_committed_in_on_revoke_hand_over_without_duplicates(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    topic, group = new_topic(2), unique("g")
    seen: dict[int, list[Record]] = {}
    positions: dict[TopicPartition, int] = {}

    def commit_progress(revoked: set[TopicPartition]) -> None:  # the Kafka pattern
        a.commit({tp: positions[tp] for tp in revoked if tp in positions})

    a = broker.consumer(group, [topic], on_revoke=commit_progress)
    producer = broker.producer()
    for i in range(40):
        producer.send(topic, b"before-%d" % i, partition=i % 2)
    producer.flush()

    def track() -> bool:
        for r in seen.get(0, []):
            positions[TopicPartition(r.topic, r.partition)] = r.offset + 1
        return len(seen.get(0, [])) >= 40

    poll([a], track, seen)
    b = broker.consumer(group, [topic])
    poll([a, b], lambda: len(a.assignment()) == 1 and len(b.assignment()) == 1, seen)
    for i in range(10):
        producer.send(topic, b"after-%d" % i, partition=i % 2)
    producer.flush()
    after: dict[int, list[Record]] = {}
    poll([a, b], lambda: sum(len(v) for v in after.values()) >= 10, after)
    for c in (a, b):
        after.setdefault(0, []).extend(c.poll(timeout=0.3))
    # nothing read twice: the new owner started where the old one had committed
    assert len(seen.get(1, [])) == 0
    assert sorted(r.value for v in after.values() for r in v) == sorted(
        b"after-%d" % i for i in range(10)
    )
    b.close()
    a.close()
    producer.close()


def test_seek_from_on_assign_and_right_after_the_assignment(
    broker: Broker, new_topic: Callable[[int], str], unique: Callable[[str], str], poll: Poll
) -> None:
    topic = new_topic(2)
    producer = broker.producer()
    for i in range(10):
        producer.send(topic, b"%d" % i, partition=0)
        producer.send(topic, b"%d" % i, partition=1)
    producer.flush()
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)

    def start_p0_at_6(tps: set[TopicPartition]) -> None:
        if p0 in tps:
            early.seek(p0, 6)

    early = broker.consumer(unique("g"), [topic], on_assign=start_p0_at_6)
    got: dict[int, list[Record]] = {}
    poll([early], lambda: len(got.get(0, [])) >= 14, got)
    assert sorted((r.partition, r.offset) for r in got[0]) == [
        *[(0, i) for i in range(6, 10)],
        *[(1, i) for i in range(10)],
    ]
    early.close()

    late = broker.consumer(unique("g"), [topic])
    first: dict[int, list[Record]] = {}
    poll([late], lambda: bool(late.assignment()), first)
    late.seek(p1, 8)  # maybe before the consumer has fetched anything of p1
    rest: dict[int, list[Record]] = {}

    def done() -> bool:
        seen = first.get(0, []) + rest.get(0, [])
        p0 = {r.offset for r in seen if r.partition == 0}
        return len(p0) == 10 and any(r.partition == 1 and r.offset == 9 for r in rest.get(0, []))

    poll([late], done, rest)
    seen = first.get(0, []) + rest.get(0, [])
    assert sorted(r.offset for r in seen if r.partition == 0) == list(range(10))
    assert [r.offset for r in rest[0] if r.partition == 1] == [8, 9]  # from the seek on
    late.close()
    producer.close()
