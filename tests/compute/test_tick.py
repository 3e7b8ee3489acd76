"""Tick tuples: ``tick_seconds`` -> ``process_tick()`` on a timer, on the task's thread."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from squall.compute import Bolt, Config, LocalCluster, Spout, Topology, TopologyContext, Tuple

WaitUntil = Callable[..., None]


class Idle(Spout):
    outputs = ["n"]

    def next_tuple(self) -> None:
        pass


def test_process_tick_runs_on_the_period(cluster: LocalCluster, wait_until: WaitUntil) -> None:
    period = 0.05
    ticks: list[float] = []

    class Ticker(Bolt):
        tick_seconds = period

        def process(self, tup: Tuple) -> None:
            raise AssertionError("no input expected")

        def process_tick(self) -> None:
            ticks.append(time.monotonic())

    topo = Topology("tick")
    topo.spout("s", Idle)
    topo.bolt("t", Ticker).shuffle_grouping("s")
    t0 = time.monotonic()
    cluster.submit(topo)
    wait_until(lambda: len(ticks) >= 8, timeout=10, what="8 ticks")
    t1 = time.monotonic()
    seen = [t for t in ticks if t <= t1]
    elapsed = t1 - t0

    assert ticks[0] - t0 >= period * 0.9  # the first tick comes after one period
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert min(gaps) >= period * 0.9, gaps  # never faster than the period
    assert len(seen) <= elapsed / period + 1
    assert len(seen) >= elapsed / period / 5, (len(seen), elapsed)  # loosely on time
    assert cluster.metrics()["t"].executed == 0  # ticks are not tuples


def test_two_periods_tick_in_proportion(cluster: LocalCluster, wait_until: WaitUntil) -> None:
    counts = {"fast": 0, "slow": 0}

    def ticker(name: str, seconds: float) -> type[Bolt]:
        class T(Bolt):
            tick_seconds = seconds

            def process(self, tup: Tuple) -> None:
                pass

            def process_tick(self) -> None:
                counts[name] += 1

        return T

    topo = Topology("two-ticks")
    topo.spout("s", Idle)
    topo.bolt("fast", ticker("fast", 0.01)).shuffle_grouping("s")
    topo.bolt("slow", ticker("slow", 0.08)).shuffle_grouping("s")
    cluster.submit(topo)
    wait_until(lambda: counts["slow"] >= 4, timeout=10, what="4 slow ticks")
    fast, slow = counts["fast"], counts["slow"]
    # 8x the rate in theory; loosely, as a loaded machine stretches the short period
    assert 2 * slow <= fast <= 8 * slow + 8, (fast, slow)


def test_process_tick_never_overlaps_process(cluster: LocalCluster, wait_until: WaitUntil) -> None:
    log: list[tuple[str, int]] = []
    stop = threading.Event()

    class Endless(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            self.n = 0

        def next_tuple(self) -> None:
            if not stop.is_set():
                self.emit([self.n])
                self.n += 1

    class Busy(Bolt):
        tick_seconds = 0.005

        def process(self, tup: Tuple) -> None:
            log.append(("enter", threading.get_ident()))
            until = time.perf_counter() + 0.0001  # a little work, to open a window
            while time.perf_counter() < until:
                pass
            log.append(("exit", threading.get_ident()))

        def process_tick(self) -> None:
            log.append(("tick", threading.get_ident()))

    topo = Topology("overlap")
    topo.spout("s", Endless)
    topo.bolt("b", Busy, parallelism=2).shuffle_grouping("s")
    cluster.submit(topo)
    wait_until(lambda: sum(k == "tick" for k, _ in log[:]) >= 20, what="20 ticks")
    stop.set()
    cluster.wait_idle(timeout=10)

    events = list(log)
    assert len({ident for _, ident in events}) == 1  # one thread for everything
    assert threading.get_ident() not in {ident for _, ident in events}
    inside = False
    for kind, _ in events:
        if kind == "enter":
            assert not inside
            inside = True
        elif kind == "exit":
            assert inside
            inside = False
        else:
            assert not inside, "process_tick ran while process was running"
    # ticks really were interleaved with processing
    first_enter = next(i for i, (k, _) in enumerate(events) if k == "enter")
    last_exit = max(i for i, (k, _) in enumerate(events) if k == "exit")
    assert sum(k == "tick" for k, _ in events[first_enter:last_exit]) >= 10


def test_wait_idle_covers_what_a_tick_emits_and_acks() -> None:
    """A bolt that holds tuples and releases them on a tick (as windows do): wait_idle
    must not return before the released tuples and the spout's ack have gone through."""
    acked: list[Any] = []
    got: list[Any] = []

    class Once(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            self.sent = False

        def next_tuple(self) -> None:
            if not self.sent:
                self.sent = True
                self.emit([1], msg_id="m")

        def ack(self, msg_id: Any) -> None:
            acked.append(msg_id)

    class Release(Bolt):
        outputs = ["n"]
        auto_ack = False
        tick_seconds = 0.05

        def prepare(self, context: TopologyContext) -> None:
            self.held: list[Tuple] = []

        def process(self, tup: Tuple) -> None:
            self.held.append(tup)

        def process_tick(self) -> None:
            for tup in self.held:
                self.emit([tup["n"] + 1])  # unanchored: only the inbox says it is in flight
                self.ack(tup)
            self.held.clear()

    class Sink(Bolt):
        def process(self, tup: Tuple) -> None:
            got.append(tup["n"])

    for _ in range(5):
        acked.clear()
        got.clear()
        topo = Topology("release")
        topo.spout("s", Once)
        topo.bolt("r", Release).shuffle_grouping("s")
        topo.bolt("k", Sink).shuffle_grouping("r")
        with LocalCluster(Config(message_timeout=10)) as cluster:
            cluster.submit(topo)
            cluster.wait_idle(timeout=10)
            assert (acked, got) == (["m"], [2])
