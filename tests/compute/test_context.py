"""Task contexts and instances: one instance per task, each told who it is."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from squall.compute import Bolt, Config, LocalCluster, Spout, Topology, TopologyContext, Tuple
from squall.compute.worker import Worker

Seen = list[tuple[int, TopologyContext]]  # (id of the instance, its context)


class Src(Spout):
    outputs = ["n"]
    seen: Seen

    def open(self, context: TopologyContext) -> None:
        self.seen.append((id(self), context))

    def next_tuple(self) -> None:
        pass


class Mid(Bolt):
    outputs = ["n"]
    seen: Seen

    def prepare(self, context: TopologyContext) -> None:
        self.seen.append((id(self), context))

    def process(self, tup: Tuple) -> None:
        pass


def test_contexts_number_the_tasks() -> None:
    seen: Seen = []
    Src.seen = Mid.seen = seen
    topo = Topology("ctx")
    topo.spout("s", Src, parallelism=2)
    topo.bolt("a", Mid, parallelism=3).shuffle_grouping("s")
    topo.bolt("b", Mid, parallelism=4).shuffle_grouping("a")
    config = Config(message_timeout=7)
    with LocalCluster(config) as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=10)

    assert len(seen) == 9
    assert len({instance for instance, _ in seen}) == 9  # each task its own instance
    contexts = [c for _, c in seen]
    ids = [c.task_id for c in contexts]
    assert sorted(ids) == list(range(1, 10))  # unique, 1-based
    by_component: dict[str, list[TopologyContext]] = defaultdict(list)
    for c in contexts:
        by_component[c.component].append(c)
        assert c.topology == "ctx" and c.config == config
    assert {name: len(cs) for name, cs in by_component.items()} == {"s": 2, "a": 3, "b": 4}
    for cs in by_component.values():
        assert sorted(c.task_index for c in cs) == list(range(len(cs)))
        assert {c.parallelism for c in cs} == {len(cs)}
    for c in contexts:
        for name, cs in by_component.items():
            assert sorted(c.tasks_of(name)) == sorted(x.task_id for x in cs)
    assert {c.worker_index for c in contexts} == {0}  # one worker, the first


def test_a_worker_tells_its_tasks_its_index() -> None:
    """A worker process of `--workers N` (here the third) hands its index to every task,
    e.g. so that a transactional sink's id differs between workers."""
    seen: Seen = []
    Src.seen = Mid.seen = seen
    topo = Topology("ctx")
    topo.spout("s", Src, parallelism=2)
    topo.bolt("a", Mid, parallelism=1).shuffle_grouping("s")
    worker = Worker(topo.build(), Config(message_timeout=7), index=2)
    worker.start()
    try:
        assert sorted(c.worker_index for _, c in seen) == [2, 2, 2]
    finally:
        worker.stop()


class Counting(Bolt):
    """Counts its own inputs: state must not be shared between tasks."""

    outputs = ["n"]
    totals: dict[int, int]

    def __init__(self) -> None:
        self.count = 0

    def prepare(self, context: TopologyContext) -> None:
        self.task = context.task_id

    def process(self, tup: Tuple) -> None:
        self.count += 1
        self.totals[self.task] = self.count


class Numbers(Spout):
    outputs = ["n"]

    def open(self, context: TopologyContext) -> None:
        self.n = 0

    def next_tuple(self) -> None:
        if self.n < 300:
            self.emit([self.n])
            self.n += 1


def _run_counting(bolt: Any) -> dict[int, int]:
    totals: dict[int, int] = {}
    Counting.totals = totals
    topo = Topology("state")
    topo.spout("s", Numbers)
    topo.bolt("c", bolt, parallelism=3).shuffle_grouping("s")
    with LocalCluster() as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=10)
    return totals


def test_a_class_gives_each_task_fresh_state() -> None:
    totals = _run_counting(Counting)
    assert len(totals) == 3 and sum(totals.values()) == 300  # shuffle: 100 each
    assert set(totals.values()) == {100}


def test_an_instance_is_copied_per_task() -> None:
    prototype = Counting()
    prototype.count = 1000
    totals = _run_counting(prototype)
    assert set(totals.values()) == {1100}  # each copy starts from the prototype's state
    assert prototype.count == 1000  # the prototype itself never runs


def test_a_factory_is_called_per_task() -> None:
    made: list[Counting] = []

    def factory() -> Counting:
        made.append(Counting())
        return made[-1]

    totals = _run_counting(factory)
    assert set(totals.values()) == {100}
    running = [b for b in made if b.count]
    assert len(running) == 3 and len({id(b) for b in running}) == 3
