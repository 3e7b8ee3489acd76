"""LocalCluster: lifecycle, wait_idle, metrics, and errors that must not stop a topology."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from squall.compute import (
    Bolt,
    ComputeError,
    Config,
    IdleTimeout,
    LocalCluster,
    Spout,
    Topology,
    TopologyContext,
    Tuple,
)
from squall.compute.topology import TopologySpec

WaitUntil = Callable[..., None]


class Count(Spout):
    """Emits 0..limit-1, tracked; records ack and fail."""

    outputs = ["n"]
    limit = 50

    def __init__(self, log: list[tuple[str, Any]] | None = None) -> None:
        self.log = log if log is not None else []

    def open(self, context: TopologyContext) -> None:
        self.n = 0

    def next_tuple(self) -> None:
        if self.n < self.limit:
            self.emit([self.n], msg_id=self.n)
            self.n += 1

    def ack(self, msg_id: Any) -> None:
        self.log.append(("ack", msg_id))

    def fail(self, msg_id: Any) -> None:
        self.log.append(("fail", msg_id))


class Collect(Bolt):
    got: list[Any]

    def process(self, tup: Tuple) -> None:
        self.got.append(tup["n"])


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.ERROR) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def test_errors_in_next_tuple_are_logged_and_the_spout_keeps_going(
    cluster: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[int] = []

    class Flaky(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            self.calls = 0
            self.n = 0

        def next_tuple(self) -> None:
            self.calls += 1
            if self.calls % 3 == 0:
                raise RuntimeError("flaky source")
            if self.n < 30:
                self.emit([self.n])
                self.n += 1

    Collect.got = got
    topo = Topology("flaky")
    topo.spout("src", Flaky)
    topo.bolt("b", Collect).shuffle_grouping("src")
    with caplog.at_level(logging.ERROR, logger="squall.compute"):
        cluster.submit(topo)
        cluster.wait_idle(timeout=10)

    assert sorted(got) == list(range(30))
    logged = messages(caplog)
    assert logged and all(
        re.search(r"error in next_tuple in component 'src' task 1\b", m) for m in logged
    )
    assert all(r.exc_info and "flaky source" in str(r.exc_info[1]) for r in caplog.records)
    assert 10 <= len(logged) <= 15  # 14 or 15 raises, of which the first 10 are logged


def test_errors_in_process_are_logged_with_component_and_task(
    cluster: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[tuple[str, Any]] = []
    tasks: list[int] = []

    class Picky(Bolt):
        def prepare(self, context: TopologyContext) -> None:
            tasks.append(context.task_id)

        def process(self, tup: Tuple) -> None:
            if tup["n"] in (3, 30):
                raise KeyError(f"no {tup['n']}")

    topo = Topology("picky")
    topo.spout("s", lambda: Count(log))
    topo.bolt("picky", Picky, parallelism=2).shuffle_grouping("s")
    with caplog.at_level(logging.ERROR, logger="squall.compute"):
        cluster.submit(topo)
        cluster.wait_idle(timeout=10)

    assert sorted(m for k, m in log if k == "fail") == [3, 30]
    assert sorted(m for k, m in log if k == "ack") == [n for n in range(50) if n not in (3, 30)]
    logged = messages(caplog)
    assert len(logged) == 2
    for m in logged:
        found = re.search(r"error in process in component 'picky' task (\d+)", m)
        assert found and int(found.group(1)) in tasks


def test_errors_in_tick_and_ack_callbacks_are_logged(
    cluster: LocalCluster, caplog: pytest.LogCaptureFixture, wait_until: WaitUntil
) -> None:
    ticks: list[int] = []

    class BadAck(Count):
        limit = 3

        def ack(self, msg_id: Any) -> None:
            super().ack(msg_id)
            raise ValueError("ack handler broke")

    class BadTick(Bolt):
        tick_seconds = 0.005

        def process(self, tup: Tuple) -> None:
            pass

        def process_tick(self) -> None:
            ticks.append(1)
            raise ValueError("tick broke")

    log: list[tuple[str, Any]] = []
    topo = Topology("callbacks")
    topo.spout("s", lambda: BadAck(log))
    topo.bolt("t", BadTick).shuffle_grouping("s")
    tick_error = "error in process_tick in component 't' task 2"
    ack_error = "error in ack/fail in component 's' task 1"

    def counted(text: str) -> int:
        return sum(text in m for m in messages(caplog))

    with caplog.at_level(logging.ERROR, logger="squall.compute"):
        cluster.submit(topo)
        # the callbacks record before they raise: await the logged errors, not the records
        wait_until(
            lambda: len(ticks) >= 3 and len(log) == 3 and counted(tick_error) >= 3
            and counted(ack_error) >= 3,
            what="ticks and acks, and their errors logged",
        )  # fmt: skip
    assert counted(tick_error) >= 3
    assert counted(ack_error) == 3


def test_only_the_first_ten_errors_of_a_task_are_logged(
    cluster: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    class Always(Bolt):
        def process(self, tup: Tuple) -> None:
            raise ValueError("always")

    topo = Topology("sampled")
    topo.spout("s", Count)
    topo.bolt("b", Always).shuffle_grouping("s")
    with caplog.at_level(logging.ERROR, logger="squall.compute"):
        cluster.submit(topo)
        cluster.wait_idle(timeout=10)
    assert len(messages(caplog)) == 10
    assert cluster.metrics()["b"].failed == 50


def test_open_raising_fails_submit(cluster: LocalCluster) -> None:
    class Broken(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            raise OSError("cannot reach the source")

        def next_tuple(self) -> None:
            pass

    topo = Topology("broken")
    topo.spout("s", Broken)
    with pytest.raises(ComputeError, match=r"'broken' failed to start.*cannot reach the source"):
        cluster.submit(topo)
    assert cluster.topologies == []


def test_lifecycle_submit_kill_and_names(cluster: LocalCluster) -> None:
    calls: list[str] = []

    class Life(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            calls.append("open")

        def activate(self) -> None:
            calls.append("activate")

        def next_tuple(self) -> None:
            if calls[-1] != "next_tuple":
                calls.append("next_tuple")

        def deactivate(self) -> None:
            calls.append("deactivate")

        def close(self) -> None:
            calls.append("close")

    class Clean(Bolt):
        def prepare(self, context: TopologyContext) -> None:
            calls.append("prepare")

        def process(self, tup: Tuple) -> None:
            pass

        def cleanup(self) -> None:
            calls.append("cleanup")

    topo = Topology("life")
    topo.spout("s", Life)
    topo.bolt("b", Clean, parallelism=2).shuffle_grouping("s")
    cluster.submit(topo)
    assert cluster.topologies == ["life"]
    with pytest.raises(ComputeError, match="already running"):
        cluster.submit(topo)
    cluster.wait_idle(timeout=5, name="life")
    cluster.kill("life", wait=1.0)
    assert cluster.topologies == []
    assert (
        sorted(c for c in calls if c in ("prepare", "cleanup")) == ["cleanup"] * 2 + ["prepare"] * 2
    )
    # Storm's order: open, activate before the first next_tuple, deactivate before close
    spout_calls = [c for c in calls if c not in ("prepare", "cleanup")]
    assert spout_calls == ["open", "activate", "next_tuple", "deactivate", "close"]
    with pytest.raises(ComputeError, match="no running topology 'life'"):
        cluster.kill("life")


def test_kill_deactivates_the_spouts_first() -> None:
    calls: list[str] = []

    class Endless(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            self.active = True

        def next_tuple(self) -> None:
            calls.append("next" if self.active else "next-while-inactive")

        def deactivate(self) -> None:
            self.active = False
            calls.append("deactivate")

        def close(self) -> None:
            calls.append("close")

    topo = Topology("deact")
    topo.spout("s", Endless)
    with LocalCluster() as cluster:
        cluster.submit(topo)
        cluster.kill("deact", wait=0.1)
    assert "next-while-inactive" not in calls
    assert calls[-2:] == ["deactivate", "close"]


def test_wait_idle_times_out_while_a_tree_is_pending() -> None:
    class Hold(Bolt):
        auto_ack = False

        def process(self, tup: Tuple) -> None:
            pass  # never acked

    class One(Count):
        limit = 1

    topo = Topology("held")
    topo.spout("s", One)
    topo.bolt("b", Hold).shuffle_grouping("s")
    with LocalCluster(Config(message_timeout=60)) as cluster:
        cluster.submit(topo)
        with pytest.raises(
            IdleTimeout, match=r"'held' not idle after 0.2s \(1 tuple trees pending"
        ):
            cluster.wait_idle(timeout=0.2)
        assert issubclass(IdleTimeout, TimeoutError)


def test_two_topologies_run_side_by_side() -> None:
    got_a: list[int] = []
    got_b: list[int] = []

    class CollectA(Collect):
        got = got_a

    class CollectB(Collect):
        got = got_b

    class Few(Count):
        limit = 7

    a, b = Topology("a"), Topology("b")
    a.spout("s", Count)
    a.bolt("c", CollectA).shuffle_grouping("s")
    b.spout("s", Few)
    b.bolt("c", CollectB).shuffle_grouping("s")
    with LocalCluster() as cluster:
        cluster.submit(a)
        cluster.submit(b.build())  # a prebuilt TopologySpec is accepted too
        cluster.wait_idle(timeout=10)
        assert cluster.topologies == ["a", "b"]
        with pytest.raises(ComputeError, match="name the topology"):
            cluster.metrics()
        assert cluster.metrics("a")["c"].executed == 50
        assert cluster.metrics("b")["c"].executed == 7
    assert sorted(got_a) == list(range(50)) and sorted(got_b) == list(range(7))
    assert isinstance(b.build(), TopologySpec)


def test_wait_idle_sees_work_handed_to_a_spout_during_its_poll() -> None:
    """A record produced while the spout is polling (the round already under way saw
    nothing) must still be processed before wait_idle returns."""
    inbox: queue.Queue[int] = queue.Queue()
    polling = threading.Event()
    got: list[int] = []

    class Polling(Spout):
        outputs = ["n"]

        def next_tuple(self) -> None:
            try:
                n = inbox.get_nowait()
            except queue.Empty:
                polling.set()
                time.sleep(0.002)  # a poll that found nothing and took a moment (I/O)
                return
            self.emit([n], msg_id=n)

    class Sink(Bolt):
        def process(self, tup: Tuple) -> None:
            got.append(tup["n"])

    topo = Topology("poll")
    topo.spout("s", Polling)
    topo.bolt("b", Sink).shuffle_grouping("s")
    with LocalCluster() as cluster:
        cluster.submit(topo)
        for n in range(20):
            polling.clear()
            assert polling.wait(5)  # the spout is inside an empty poll right now
            inbox.put(n)
            cluster.wait_idle(timeout=5)
            assert got == list(range(n + 1))


def test_submit_takes_a_config_per_topology() -> None:
    log: list[tuple[str, Any]] = []

    class Never(Bolt):
        auto_ack = False

        def process(self, tup: Tuple) -> None:
            pass

    class Three(Count):
        limit = 3

    topo = Topology("own-config")
    topo.spout("s", lambda: Three(log))
    topo.bolt("b", Never).shuffle_grouping("s")
    with LocalCluster(Config(acking=True, message_timeout=60)) as cluster:
        cluster.submit(topo, Config(acking=False))
        cluster.wait_idle(timeout=5)  # with the cluster's config this would time out
    assert sorted(m for k, m in log if k == "ack") == [0, 1, 2]
