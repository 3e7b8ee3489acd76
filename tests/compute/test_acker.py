"""Guaranteed processing: tuple trees, the XOR acker, timeouts, replay, spout pending.

Components append to one shared event log on the worker thread, so the order of the
log is the order things happened; tests read it after ``wait_idle`` or a polled
condition.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from squall.compute import (
    Bolt,
    Config,
    FailedException,
    LocalCluster,
    Spout,
    Topology,
    TopologyContext,
    Tuple,
)

Events = list[tuple[str, Any]]
WaitUntil = Callable[..., None]


class MsgSpout(Spout):
    """Emits each message once as ``[m]`` with ``msg_id=m`` (split over its tasks);
    with ``replay`` a failed message is queued again. Tracks what it has in flight."""

    outputs = ["m"]

    def __init__(
        self,
        msgs: Sequence[Any],
        events: Events,
        replay: bool = False,
        tasks: list[MsgSpout] | None = None,
    ) -> None:
        self.msgs, self.events, self.replay, self.tasks = list(msgs), events, replay, tasks

    def open(self, context: TopologyContext) -> None:
        self.queue = deque(self.msgs[context.task_index :: context.parallelism])
        self.in_flight: set[Any] = set()
        self.max_in_flight = 0
        self.emit_times: dict[Any, list[float]] = {}
        self.fail_times: dict[Any, list[float]] = {}
        if self.tasks is not None:
            self.tasks.append(self)

    def next_tuple(self) -> None:
        if not self.queue:
            return
        m = self.queue.popleft()
        self.events.append(("emit", m))
        self.emit_times.setdefault(m, []).append(time.monotonic())
        self.emit([m], msg_id=m)
        self.in_flight.add(m)
        self.max_in_flight = max(self.max_in_flight, len(self.in_flight))

    def ack(self, msg_id: Any) -> None:
        self.events.append(("ack", msg_id))
        self.in_flight.discard(msg_id)

    def fail(self, msg_id: Any) -> None:
        self.events.append(("fail", msg_id))
        self.fail_times.setdefault(msg_id, []).append(time.monotonic())
        self.in_flight.discard(msg_id)
        if self.replay:
            self.queue.append(msg_id)


def spout_of(msgs: Sequence[Any], events: Events, **kw: Any) -> Callable[[], MsgSpout]:
    return lambda: MsgSpout(msgs, events, **kw)


def kinds(events: Events, kind: str) -> list[Any]:
    return [x for k, x in events if k == kind]


class FanOut(Bolt):
    """Emits ``fan`` children ``[*values, j]`` anchored to the input."""

    fan = 3
    outputs = ["m", "j"]

    def process(self, tup: Tuple) -> None:
        for j in range(self.fan):
            self.emit([tup[0], j], anchors=[tup])


def holder(events: Events, label: str, per_tick: int = 1) -> type[Bolt]:
    """A bolt that holds its inputs and acks ``per_tick`` of them per tick (every 5 ms),
    logging ``(label, values)`` just before each ack."""

    class Hold(Bolt):
        auto_ack = False
        tick_seconds = 0.005

        def prepare(self, context: TopologyContext) -> None:
            self.held: deque[Tuple] = deque()

        def process(self, tup: Tuple) -> None:
            self.held.append(tup)

        def process_tick(self) -> None:
            for _ in range(min(per_tick, len(self.held))):
                tup = self.held.popleft()
                events.append((label, tuple(tup.values)))
                self.ack(tup)

    return Hold


def test_spout_ack_only_after_every_tuple_of_a_multi_level_tree(cluster: LocalCluster) -> None:
    events: Events = []

    class Mid(Bolt):
        outputs = ["m", "j", "k"]

        def process(self, tup: Tuple) -> None:
            events.append(("mid", tuple(tup.values)))
            for k in range(2):
                self.emit([*tup.values, k], anchors=tup)

    class Audit(Bolt):
        """A second subscriber of the spout (two tasks, all grouping: two more copies of
        each spout tuple). It acks its copy only a few ticks after the rest of the tree
        is done, so a tree that ignored these copies would be acked first."""

        auto_ack = False
        tick_seconds = 0.005

        def prepare(self, context: TopologyContext) -> None:
            self.held: dict[Any, list[Any]] = {}  # m -> [tuple, ticks since leaves done]

        def process(self, tup: Tuple) -> None:
            self.held[tup["m"]] = [tup, 0]

        def process_tick(self) -> None:
            for m, entry in list(self.held.items()):
                if sum(k == "leaf" and v[0] == m for k, v in events) == 6:
                    entry[1] += 1
                if entry[1] > 3:
                    del self.held[m]
                    events.append(("audit", (m,)))
                    self.ack(entry[0])

    topo = Topology("tree")
    topo.spout("s", spout_of(["a", "b", "c"], events))
    topo.bolt("fan", FanOut, parallelism=2).shuffle_grouping("s")
    topo.bolt("audit", Audit, parallelism=2).all_grouping("s")
    topo.bolt("mid", Mid, parallelism=2).shuffle_grouping("fan")
    topo.bolt("leaf", holder(events, "leaf"), parallelism=1).shuffle_grouping("mid")
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)

    assert sorted(kinds(events, "ack")) == ["a", "b", "c"]
    assert kinds(events, "fail") == []
    for m in "abc":
        leaves = [i for i, (k, v) in enumerate(events) if k == "leaf" and v[0] == m]
        audits = [i for i, (k, v) in enumerate(events) if k == "audit" and v[0] == m]
        assert len(leaves) == 6 and len(audits) == 2  # 3 children x 2; 2 audit tasks
        assert events.index(("ack", m)) > max(leaves + audits)


def test_a_tuple_anchored_to_two_trees_holds_both(cluster: LocalCluster) -> None:
    events: Events = []

    class Pair(Bolt):
        """Joins consecutive inputs into one tuple anchored to both, then acks them."""

        outputs = ["a", "b"]
        auto_ack = False

        def prepare(self, context: TopologyContext) -> None:
            self.first: Tuple | None = None

        def process(self, tup: Tuple) -> None:
            if self.first is None:
                self.first = tup
                return
            first, self.first = self.first, None
            self.emit([first[0], tup[0]], anchors=[first, tup])
            self.ack(first)
            self.ack(tup)

    topo = Topology("join")
    topo.spout("s", spout_of(list(range(6)), events))
    topo.bolt("pair", Pair).global_grouping("s")
    topo.bolt("leaf", holder(events, "leaf")).shuffle_grouping("pair")
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)

    joined = kinds(events, "leaf")
    assert sorted(m for pair in joined for m in pair) == list(range(6))
    assert sorted(kinds(events, "ack")) == list(range(6))
    for pair in joined:
        released = events.index(("leaf", pair))
        assert all(events.index(("ack", m)) > released for m in pair)


def test_failing_a_tuple_anchored_to_two_trees_fails_both_once(cluster: LocalCluster) -> None:
    events: Events = []

    class Pair(Bolt):
        outputs = ["a", "b"]
        auto_ack = False

        def prepare(self, context: TopologyContext) -> None:
            self.first: Tuple | None = None

        def process(self, tup: Tuple) -> None:
            if self.first is None:
                self.first = tup
                return
            first, self.first = self.first, None
            self.emit([first[0], tup[0]], anchors=[first, tup])
            self.ack(first)
            self.ack(tup)

    class Reject(Bolt):
        def process(self, tup: Tuple) -> None:
            if tup["a"] == 0:
                raise FailedException("reject the first pair")

    topo = Topology("join-fail")
    topo.spout("s", spout_of(list(range(4)), events))
    topo.bolt("pair", Pair).global_grouping("s")
    topo.bolt("reject", Reject).shuffle_grouping("pair")
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)

    assert Counter(kinds(events, "fail")) == {0: 1, 1: 1}
    assert sorted(kinds(events, "ack")) == [2, 3]


def test_many_anchors_from_one_tree_complete_it(cluster: LocalCluster) -> None:
    """Two tuples of the same tree anchor one output: the edges XOR per anchor."""
    events: Events = []

    class Regroup(Bolt):
        outputs = ["m"]
        auto_ack = False

        def prepare(self, context: TopologyContext) -> None:
            self.parts: dict[Any, list[Tuple]] = {}

        def process(self, tup: Tuple) -> None:
            parts = self.parts.setdefault(tup["m"], [])
            parts.append(tup)
            if len(parts) == FanOut.fan:
                del self.parts[tup["m"]]
                self.emit([tup["m"]], anchors=parts)
                for p in parts:
                    self.ack(p)

    topo = Topology("regroup")
    topo.spout("s", spout_of(list(range(20)), events))
    topo.bolt("fan", FanOut, parallelism=2).shuffle_grouping("s")
    topo.bolt("regroup", Regroup, parallelism=2).fields_grouping("fan", ["m"])
    topo.bolt("leaf", holder(events, "leaf", per_tick=5)).shuffle_grouping("regroup")
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)

    assert sorted(kinds(events, "ack")) == list(range(20))
    assert kinds(events, "fail") == []
    for m in range(20):
        assert events.index(("ack", m)) > events.index(("leaf", (m,)))


def test_an_exception_in_process_fails_the_tree_once(
    cluster: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    events: Events = []

    class Boom(Bolt):
        def process(self, tup: Tuple) -> None:
            if tup["m"] % 4 == 0:
                raise ValueError(f"bad {tup['m']}")

    topo = Topology("boom")
    topo.spout("s", spout_of(list(range(20)), events))
    topo.bolt("fan", FanOut, parallelism=2).shuffle_grouping("s")
    topo.bolt("boom", Boom, parallelism=3).shuffle_grouping("fan")
    with caplog.at_level(logging.ERROR, logger="squall.compute"):
        cluster.submit(topo)
        cluster.wait_idle(timeout=20)

    failing = [m for m in range(20) if m % 4 == 0]
    # every branch of a failing tree raised (3 each), the spout heard once per tree
    assert Counter(kinds(events, "fail")) == dict.fromkeys(failing, 1)
    assert Counter(kinds(events, "ack")) == {m: 1 for m in range(20) if m % 4}
    m = cluster.metrics()
    assert (m["boom"].failed, m["boom"].acked) == (3 * len(failing), 3 * (20 - len(failing)))
    assert (m["s"].failed, m["s"].acked) == (len(failing), 20 - len(failing))
    logged = [r.getMessage() for r in caplog.records if "error in process" in r.getMessage()]
    assert len(logged) == 3 * len(failing)
    assert all("'boom'" in msg and "task" in msg for msg in logged)


def test_failed_exception_fails_without_logging_an_error(
    cluster: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    events: Events = []

    class Refuse(Bolt):
        def process(self, tup: Tuple) -> None:
            if tup["m"] % 2:
                raise FailedException("odd")

    topo = Topology("refuse")
    topo.spout("s", spout_of(list(range(10)), events))
    topo.bolt("refuse", Refuse, parallelism=2).shuffle_grouping("s")
    with caplog.at_level(logging.DEBUG, logger="squall.compute"):
        cluster.submit(topo)
        cluster.wait_idle(timeout=20)

    assert sorted(kinds(events, "fail")) == [1, 3, 5, 7, 9]
    assert sorted(kinds(events, "ack")) == [0, 2, 4, 6, 8]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_message_timeout_fails_then_replay_acks_every_message_once() -> None:
    events: Events = []
    spouts: list[MsgSpout] = []
    timeout = 0.3

    class DropFirst(Bolt):
        """Never acks the first delivery of every third message (a lost tuple)."""

        auto_ack = False

        def prepare(self, context: TopologyContext) -> None:
            self.seen: set[Any] = set()
            self.lost: list[Tuple] = []

        def process(self, tup: Tuple) -> None:
            m = tup["m"]
            if m % 3 == 0 and m not in self.seen:
                self.seen.add(m)
                self.lost.append(tup)
                return
            self.ack(tup)

    topo = Topology("replay")
    topo.spout("s", spout_of(list(range(30)), events, replay=True, tasks=spouts))
    topo.bolt("b", DropFirst, parallelism=2).fields_grouping("s", ["m"])
    with LocalCluster(Config(message_timeout=timeout)) as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=20)
        metrics = cluster.metrics()

    dropped = [m for m in range(30) if m % 3 == 0]
    assert Counter(kinds(events, "ack")) == dict.fromkeys(range(30), 1)
    assert Counter(kinds(events, "fail")) == dict.fromkeys(dropped, 1)
    assert Counter(kinds(events, "emit")) == {m: 2 if m % 3 == 0 else 1 for m in range(30)}
    (spout,) = spouts
    for m in dropped:
        waited = spout.fail_times[m][0] - spout.emit_times[m][0]
        assert timeout * 0.9 <= waited <= timeout + 2.0, (m, waited)
    assert (metrics["s"].acked, metrics["s"].failed) == (30, len(dropped))


def test_max_spout_pending_bounds_the_trees_in_flight() -> None:
    events: Events = []
    spouts: list[MsgSpout] = []
    topo = Topology("pending")
    topo.spout("s", spout_of(list(range(400)), events, tasks=spouts), parallelism=2)
    # acks a few held tuples per tick, so trees pile up behind the limit
    topo.bolt("slow", holder(events, "slow", per_tick=4), parallelism=2).shuffle_grouping("s")
    with LocalCluster(Config(max_spout_pending=7, spout_batch=64)) as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=20)

    assert sorted(kinds(events, "ack")) == list(range(400))
    assert [s.max_in_flight for s in spouts] == [7, 7]  # reached, never exceeded, per task


def test_max_spout_pending_with_a_fast_bolt() -> None:
    events: Events = []
    spouts: list[MsgSpout] = []

    class Quick(Bolt):
        def process(self, tup: Tuple) -> None:
            pass

    topo = Topology("pending-fast")
    topo.spout("s", spout_of(list(range(2000)), events, tasks=spouts))
    topo.bolt("b", Quick).shuffle_grouping("s")
    with LocalCluster(Config(max_spout_pending=3)) as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=20)
    assert len(kinds(events, "ack")) == 2000
    assert spouts[0].max_in_flight == 3


def test_no_ack_after_a_branch_failed(cluster: LocalCluster, wait_until: WaitUntil) -> None:
    events: Events = []

    class FailA(Bolt):
        def process(self, tup: Tuple) -> None:
            if tup["j"] == 0:
                raise FailedException("branch 0 fails")

    class AckLate(Bolt):
        """Holds branch 1 and acks it only after the spout has seen the tree fail."""

        auto_ack = False
        tick_seconds = 0.005

        def prepare(self, context: TopologyContext) -> None:
            self.held: list[Tuple] = []

        def process(self, tup: Tuple) -> None:
            self.held.append(tup)

        def process_tick(self) -> None:
            failed = set(kinds(events, "fail"))
            for tup in [t for t in self.held if t["m"] in failed]:
                self.held.remove(tup)
                events.append(("late-ack", tup["m"]))
                self.ack(tup)

    class Two(FanOut):
        fan = 2

    topo = Topology("ack-after-fail")
    topo.spout("s", spout_of(list(range(5)), events))
    topo.bolt("fan", Two).shuffle_grouping("s")
    topo.bolt("a", FailA).shuffle_grouping("fan")
    topo.bolt("b", AckLate).shuffle_grouping("fan")
    cluster.submit(topo)
    # the trees are done (failed) before the held branches are acked: wait for those
    # acks, then for an idle round, in which a wrong ack would have been delivered
    wait_until(lambda: len(kinds(events, "late-ack")) == 10, what="the late acks")
    cluster.wait_idle(timeout=20)

    assert Counter(kinds(events, "late-ack")) == dict.fromkeys(range(5), 2)  # both branches
    assert Counter(kinds(events, "fail")) == dict.fromkeys(range(5), 1)
    assert kinds(events, "ack") == []


def test_no_ack_after_a_timeout_even_if_the_tree_completes_later(wait_until: WaitUntil) -> None:
    events: Events = []

    class AckAfterTimeout(Bolt):
        auto_ack = False
        tick_seconds = 0.005

        def prepare(self, context: TopologyContext) -> None:
            self.held: list[Tuple] = []

        def process(self, tup: Tuple) -> None:
            self.held.append(tup)

        def process_tick(self) -> None:
            failed = set(kinds(events, "fail"))
            for tup in [t for t in self.held if t["m"] in failed]:
                self.held.remove(tup)
                events.append(("late-ack", tup["m"]))
                self.ack(tup)

    topo = Topology("late")
    topo.spout("s", spout_of(list(range(5)), events))
    topo.bolt("b", AckAfterTimeout).shuffle_grouping("s")
    with LocalCluster(Config(message_timeout=0.2)) as cluster:
        cluster.submit(topo)
        wait_until(lambda: len(kinds(events, "late-ack")) == 5, what="the late acks")
        cluster.wait_idle(timeout=20)

    assert Counter(kinds(events, "fail")) == dict.fromkeys(range(5), 1)
    assert kinds(events, "ack") == []


def test_acking_off_acks_at_emit() -> None:
    events: Events = []

    class Never(Bolt):
        auto_ack = False

        def process(self, tup: Tuple) -> None:
            events.append(("held", tup["m"]))

    class Raise(Bolt):
        def process(self, tup: Tuple) -> None:
            raise FailedException("fail everything")

    topo = Topology("no-acking")
    topo.spout("s", spout_of(list(range(50)), events))
    topo.bolt("never", Never).shuffle_grouping("s")
    topo.bolt("raise", Raise).shuffle_grouping("s")
    with LocalCluster(Config(acking=False, max_spout_pending=5)) as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=20)
        metrics = cluster.metrics()

    assert sorted(kinds(events, "ack")) == list(range(50))
    assert kinds(events, "fail") == []
    assert sorted(kinds(events, "held")) == list(range(50))
    assert (metrics["s"].acked, metrics["raise"].failed) == (50, 50)


def test_untracked_emits_never_reach_the_spout(cluster: LocalCluster) -> None:
    events: Events = []

    class Plain(Spout):
        outputs = ["m"]

        def open(self, context: TopologyContext) -> None:
            self.n = 0

        def next_tuple(self) -> None:
            if self.n < 20:
                self.emit([self.n])  # no msg_id
                self.n += 1

        def ack(self, msg_id: Any) -> None:
            events.append(("ack", msg_id))

        def fail(self, msg_id: Any) -> None:
            events.append(("fail", msg_id))

    class Raise(Bolt):
        def process(self, tup: Tuple) -> None:
            raise FailedException("x")

    topo = Topology("untracked")
    topo.spout("s", Plain)
    topo.bolt("raise", Raise).shuffle_grouping("s")
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)
    assert events == []
    assert cluster.metrics()["raise"].failed == 20


def test_unanchored_children_do_not_hold_or_fail_the_tree(cluster: LocalCluster) -> None:
    events: Events = []

    class Unanchored(Bolt):
        outputs = ["m"]

        def process(self, tup: Tuple) -> None:
            self.emit([tup["m"]])  # not anchored: the child is untracked

    class Raise(Bolt):
        def process(self, tup: Tuple) -> None:
            events.append(("child", tup["m"]))
            raise FailedException("child fails")

    topo = Topology("unanchored")
    topo.spout("s", spout_of(list(range(10)), events))
    topo.bolt("u", Unanchored).shuffle_grouping("s")
    topo.bolt("raise", Raise).shuffle_grouping("u")
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)
    assert sorted(kinds(events, "child")) == list(range(10))
    assert sorted(kinds(events, "ack")) == list(range(10))
    assert kinds(events, "fail") == []


def test_manual_ack_and_fail_with_auto_ack_off(cluster: LocalCluster) -> None:
    events: Events = []

    class Batch(Bolt):
        """Holds tuples until it has 10, then acks the even and fails the odd ones."""

        auto_ack = False

        def prepare(self, context: TopologyContext) -> None:
            self.held: list[Tuple] = []

        def process(self, tup: Tuple) -> None:
            self.held.append(tup)
            if len(self.held) == 10:
                events.append(("release", sorted(t["m"] for t in self.held)))
                for t in self.held:
                    (self.ack if t["m"] % 2 == 0 else self.fail)(t)
                self.held = []

    topo = Topology("manual")
    topo.spout("s", spout_of(list(range(30)), events))
    topo.bolt("b", Batch).global_grouping("s")
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)

    assert sorted(kinds(events, "ack")) == list(range(0, 30, 2))
    assert sorted(kinds(events, "fail")) == list(range(1, 30, 2))
    for batch in kinds(events, "release"):
        released = events.index(("release", batch))
        for m in batch:
            assert events.index(("ack" if m % 2 == 0 else "fail", m)) > released
    assert cluster.metrics()["b"].acked == 15 and cluster.metrics()["b"].failed == 15


def test_metrics_counters_equal_the_truth(cluster: LocalCluster) -> None:
    events: Events = []

    class Mixed(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            self.n = 0

        def next_tuple(self) -> None:
            if self.n < 150:
                # 0..99 tracked, 100..149 untracked
                self.emit([self.n], msg_id=self.n if self.n < 100 else None)
                self.n += 1

        def ack(self, msg_id: Any) -> None:
            events.append(("ack", msg_id))

        def fail(self, msg_id: Any) -> None:
            events.append(("fail", msg_id))

    class Split(Bolt):
        outputs = ["n", "j"]

        def process(self, tup: Tuple) -> None:
            n = tup["n"]
            if n % 10 == 0:
                raise FailedException("tens fail")
            for j in range(n % 3 + 1):
                self.emit([n, j], anchors=tup)

    class Sink(Bolt):
        def process(self, tup: Tuple) -> None:
            pass

    topo = Topology("metrics")
    topo.spout("s", Mixed)
    topo.bolt("split", Split, parallelism=2).shuffle_grouping("s")
    topo.bolt("sink", Sink, parallelism=3).fields_grouping("split", ["j"])
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)
    m = cluster.metrics()

    ok = [n for n in range(150) if n % 10]
    children = sum(n % 3 + 1 for n in ok)
    tracked_fail = [n for n in range(100) if n % 10 == 0]
    assert (m["s"].tasks, m["split"].tasks, m["sink"].tasks) == (1, 2, 3)
    assert (m["s"].emitted, m["s"].acked, m["s"].failed) == (150, 90, len(tracked_fail))
    assert (m["split"].executed, m["split"].acked, m["split"].failed) == (150, 135, 15)
    assert m["split"].emitted == children
    assert (m["sink"].executed, m["sink"].acked, m["sink"].failed) == (children, children, 0)
    assert m["sink"].emitted == 0
    assert sorted(kinds(events, "ack")) == [n for n in range(100) if n % 10]
    assert sorted(kinds(events, "fail")) == tracked_fail
    assert m["s"].complete_latency_ms_p99 >= m["s"].complete_latency_ms_p50 > 0
    assert m["split"].execute_latency_ms > 0 and 0 < m["split"].capacity <= 1


def test_replay_from_inside_fail(cluster: LocalCluster) -> None:
    """A spout that re-emits straight from ``fail`` (Storm's usual replay)."""
    events: Events = []

    class Replaying(MsgSpout):
        def fail(self, msg_id: Any) -> None:
            self.events.append(("fail", msg_id))
            self.emit([msg_id], msg_id=msg_id)

    class FirstFails(Bolt):
        def prepare(self, context: TopologyContext) -> None:
            self.seen: set[Any] = set()

        def process(self, tup: Tuple) -> None:
            if tup["m"] not in self.seen:
                self.seen.add(tup["m"])
                raise FailedException("first attempt fails")

    topo = Topology("replay-in-fail")
    topo.spout("s", lambda: Replaying(list(range(25)), events))
    topo.bolt("b", FirstFails, parallelism=2).fields_grouping("s", ["m"])
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)
    assert Counter(kinds(events, "fail")) == dict.fromkeys(range(25), 1)
    assert Counter(kinds(events, "ack")) == dict.fromkeys(range(25), 1)
    assert cluster.metrics()["s"].emitted == 50


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_trees_with_cross_tree_anchors_match_the_ground_truth(
    cluster: LocalCluster, seed: int
) -> None:
    """Random fan-out, joins that anchor one tuple to several trees, and random failures.
    Each tuple carries the set of roots it descends from, so the test knows which trees
    any failure touched: exactly those must fail (once), all others ack (once)."""
    events: Events = []
    failed_roots: set[int] = set()
    rng = random.Random(seed)
    fan_out = {m: rng.randrange(4) for m in range(300)}
    fail_fan = {m for m in range(300) if rng.random() < 0.03}

    class Roots(MsgSpout):
        outputs = ["roots"]

        def next_tuple(self) -> None:
            if self.queue:
                m = self.queue.popleft()
                self.emit([frozenset([m])], msg_id=m)

    def fail(bolt: Bolt, tup: Tuple) -> None:
        failed_roots.update(tup["roots"])
        bolt.fail(tup)

    def ack(bolt: Bolt, tup: Tuple) -> None:
        bolt.ack(tup)

    class Fan(Bolt):
        outputs = ["roots"]
        auto_ack = False

        def process(self, tup: Tuple) -> None:
            (m,) = tup["roots"]
            for _ in range(fan_out[m]):
                self.emit([tup["roots"]], anchors=tup)
            (fail if m in fail_fan else ack)(self, tup)

    class Join(Bolt):
        """Anchors one output to every 3 inputs (often of different trees)."""

        outputs = ["roots"]
        auto_ack = False
        tick_seconds = 0.01

        def prepare(self, context: TopologyContext) -> None:
            self.held: list[Tuple] = []
            self.rng = random.Random(seed + 100)

        def process(self, tup: Tuple) -> None:
            self.held.append(tup)
            if len(self.held) == 3:
                self.release()

        def process_tick(self) -> None:
            if self.held:  # end of the stream: release what is left
                self.release()

        def release(self) -> None:
            held, self.held = self.held, []
            self.emit([frozenset().union(*(t["roots"] for t in held))], anchors=held)
            for t in held:
                (fail if self.rng.random() < 0.02 else ack)(self, t)

    class Leaf(Bolt):
        auto_ack = False

        def prepare(self, context: TopologyContext) -> None:
            self.rng = random.Random(seed + context.task_id)

        def process(self, tup: Tuple) -> None:
            (fail if self.rng.random() < 0.03 else ack)(self, tup)

    topo = Topology("random-trees")
    topo.spout("s", lambda: Roots(list(range(300)), events))
    topo.bolt("fan", Fan, parallelism=2).shuffle_grouping("s")
    topo.bolt("join", Join).global_grouping("fan")
    topo.bolt("leaf", Leaf, parallelism=3).shuffle_grouping("join")
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)

    assert failed_roots  # the seeds do produce failures, and trees that span several
    assert Counter(kinds(events, "fail")) == dict.fromkeys(failed_roots, 1)
    assert Counter(kinds(events, "ack")) == dict.fromkeys(set(range(300)) - failed_roots, 1)


def test_timeouts_free_their_pending_slots() -> None:
    """With max_spout_pending, a tree lost downstream holds a slot until it times out;
    then the slot is free again and the replay goes through."""
    events: Events = []
    spouts: list[MsgSpout] = []

    class DropFirst(Bolt):
        auto_ack = False

        def prepare(self, context: TopologyContext) -> None:
            self.seen: set[Any] = set()

        def process(self, tup: Tuple) -> None:
            if tup["m"] % 4 == 0 and tup["m"] not in self.seen:
                self.seen.add(tup["m"])
                return  # lost: never acked
            self.ack(tup)

    topo = Topology("pending-timeouts")
    topo.spout("s", spout_of(list(range(20)), events, replay=True, tasks=spouts))
    topo.bolt("b", DropFirst).shuffle_grouping("s")
    with LocalCluster(Config(message_timeout=0.2, max_spout_pending=3)) as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=20)

    assert Counter(kinds(events, "ack")) == dict.fromkeys(range(20), 1)
    assert Counter(kinds(events, "fail")) == dict.fromkeys(range(0, 20, 4), 1)
    assert spouts[0].max_in_flight == 3
