"""Placing tasks on workers: round-robin in task-id order (Storm's EvenScheduler)."""

from __future__ import annotations

from collections import Counter

from squall.compute import Bolt, Spout, Topology, Tuple
from squall.compute.scheduler import even_assignment


class Source(Spout):
    outputs = ["x"]

    def next_tuple(self) -> None:
        pass


class Sink(Bolt):
    def process(self, tup: Tuple) -> None:
        pass


def test_tasks_are_dealt_evenly_and_every_component_spreads() -> None:
    topo = Topology("placed")
    topo.spout("source", Source, parallelism=2)
    topo.bolt("a", Sink, parallelism=3).shuffle_grouping("source")
    topo.bolt("b", Sink, parallelism=4).shuffle_grouping("source")
    spec = topo.build()
    where = even_assignment(spec, 3)
    assert sorted(where) == list(range(1, 10))  # every task placed once
    assert Counter(where.values()) == {0: 3, 1: 3, 2: 3}
    for comp in spec.components.values():
        placed = {where[t] for t in comp.task_ids}
        assert len(placed) == min(comp.parallelism, 3), comp.name
    assert set(even_assignment(spec, 1).values()) == {0}
