"""Tuples and acks crossing a worker boundary as bytes, without changing user code."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pytest

from squall.compute import Bolt, Config, Spout, Topology
from squall.compute.context import TopologyContext
from squall.compute.transfer import MemoryHub, QueueTransport
from squall.compute.tuple import Tuple
from squall.compute.worker import Worker

N = 3000


class Numbers(Spout):
    outputs = ["n"]

    def open(self, context: TopologyContext) -> None:
        self.i = 0
        self.acked: set[int] = set()
        self.failed: list[int] = []

    def next_tuple(self) -> None:
        if self.i < N:
            self.i += 1
            self.emit([self.i], msg_id=self.i)

    def ack(self, msg_id: Any) -> None:
        self.acked.add(msg_id)

    def fail(self, msg_id: Any) -> None:
        self.failed.append(msg_id)


class Double(Bolt):
    outputs = ["n", "task"]

    def prepare(self, context: TopologyContext) -> None:
        self.task = context.task_id

    def process(self, tup: Tuple) -> None:
        if tup["n"] % 100 == 0:
            raise ValueError("fails on purpose")
        self.emit([tup["n"] * 2, self.task], anchors=[tup])


class Total(Bolt):
    def prepare(self, context: TopologyContext) -> None:
        self.total = 0
        self.tasks: set[int] = set()

    def process(self, tup: Tuple) -> None:
        self.total += tup["n"]
        self.tasks.add(tup["task"])


def topology() -> Topology:
    topo = Topology("split")
    topo.spout("numbers", Numbers)
    topo.bolt("double", Double, parallelism=2).fields_grouping("numbers", ["n"])
    topo.bolt("total", Total).global_grouping("double")
    return topo


# task ids: numbers=1, double=2,3, total=4 -> the doubling runs in worker 1
ASSIGNMENT = {1: 0, 2: 1, 3: 1, 4: 0}
EXPECTED_FAILED = sorted(range(100, N + 1, 100))
EXPECTED_TOTAL = sum(2 * n for n in range(1, N + 1) if n % 100)


def wait_done(worker: Worker, timeout: float = 30.0) -> tuple[Numbers, Total]:
    spout = worker.spouts[0].spout
    total = worker.bolts[0].bolt
    assert isinstance(spout, Numbers) and isinstance(total, Total)
    deadline = time.monotonic() + timeout
    while len(spout.acked) + len(spout.failed) < N:
        assert time.monotonic() < deadline, (len(spout.acked), len(spout.failed))
        time.sleep(0.01)
    return spout, total


def test_two_workers_in_one_process_exchange_only_bytes() -> None:
    hub = MemoryHub()
    spec = topology().build()
    w0 = Worker(spec, Config(), ASSIGNMENT, 0, hub.endpoint(0))
    w1 = Worker(spec, Config(), ASSIGNMENT, 1, hub.endpoint(1))
    assert [b.component for b in w1.bolts] == ["double", "double"] and not w1.spouts
    w1.start()
    w0.start()
    try:
        spout, total = wait_done(w0)
    finally:
        w0.stop()
        w1.stop()
    assert spout.acked == set(range(1, N + 1)) - set(EXPECTED_FAILED)
    assert sorted(spout.failed) == EXPECTED_FAILED
    assert total.total == EXPECTED_TOTAL
    assert total.tasks == {2, 3}


def _run_worker_1(queues: dict[int, Any], stop: Any) -> None:
    worker = Worker(topology().build(), Config(), ASSIGNMENT, 1, QueueTransport(queues, 1))
    worker.start()
    stop.wait(60)
    worker.stop()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_workers_in_two_processes() -> None:
    ctx = multiprocessing.get_context("fork")
    queues = {0: ctx.Queue(), 1: ctx.Queue()}
    stop = ctx.Event()
    child = ctx.Process(target=_run_worker_1, args=(queues, stop))
    child.start()
    w0 = Worker(topology().build(), Config(), ASSIGNMENT, 0, QueueTransport(queues, 0))
    w0.start()
    try:
        spout, total = wait_done(w0)
    finally:
        w0.stop()
        stop.set()
        child.join(10)
    assert child.exitcode == 0
    assert spout.acked == set(range(1, N + 1)) - set(EXPECTED_FAILED)
    assert sorted(spout.failed) == EXPECTED_FAILED
    assert total.total == EXPECTED_TOTAL
    for q in queues.values():
        q.close()
        q.join_thread()
