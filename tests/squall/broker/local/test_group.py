"""The round-robin assignor every member computes on its own."""

from __future__ import annotations

import random

from squall.broker import TopicPartition
from squall.broker.local.group import assign_round_robin


def _names(assignment: dict[str, set[TopicPartition]]) -> dict[str, list[str]]:
    return {m: sorted(f"{tp.topic}p{tp.partition}" for tp in tps) for m, tps in assignment.items()}


def test_kafkas_documented_examples() -> None:
    # both examples from kafka-python's RoundRobinPartitionAssignor docstring
    same = frozenset({"t0", "t1"})
    assert _names(assign_round_robin({"C0": same, "C1": same}, {"t0": 3, "t1": 3})) == {
        "C0": ["t0p0", "t0p2", "t1p1"],
        "C1": ["t0p1", "t1p0", "t1p2"],
    }
    members = {
        "C0": frozenset({"t0"}),
        "C1": frozenset({"t0", "t1"}),
        "C2": frozenset({"t0", "t1", "t2"}),
    }
    assert _names(assign_round_robin(members, {"t0": 1, "t1": 2, "t2": 3})) == {
        "C0": ["t0p0"],
        "C1": ["t1p0"],
        "C2": ["t1p1", "t2p0", "t2p1", "t2p2"],
    }


def test_every_subscribed_partition_goes_to_exactly_one_subscriber() -> None:
    rng = random.Random(7)
    topics = {f"t{i}": rng.randrange(1, 9) for i in range(5)}
    for _ in range(200):
        members = {
            f"m{i}": frozenset(rng.sample(sorted(topics), rng.randrange(1, 4)))
            for i in range(rng.randrange(1, 7))
        }
        result = assign_round_robin(members, topics)
        owners: dict[TopicPartition, list[str]] = {}
        for member, tps in result.items():
            for tp in tps:
                assert tp.topic in members[member]
                owners.setdefault(tp, []).append(member)
        subscribed = {t for subs in members.values() for t in subs}
        expected = {TopicPartition(t, p) for t in subscribed for p in range(topics[t])}
        assert set(owners) == expected
        assert all(len(o) == 1 for o in owners.values())


def test_identical_subscriptions_balance_within_one() -> None:
    for n_members in range(1, 9):
        members = {f"m{i}": frozenset({"a", "b"}) for i in range(n_members)}
        sizes = [len(tps) for tps in assign_round_robin(members, {"a": 7, "b": 5}).values()]
        assert sum(sizes) == 12 and max(sizes) - min(sizes) <= 1
