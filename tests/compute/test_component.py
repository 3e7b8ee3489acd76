"""Spout and Bolt: what emit accepts, and when it works."""

from __future__ import annotations

from typing import Any

import pytest

from squall.compute import (
    Bolt,
    ComputeError,
    EmitError,
    LocalCluster,
    Spout,
    Topology,
    TopologyContext,
    Tuple,
)


class Once(Spout):
    outputs = ["a", "b"]

    def open(self, context: TopologyContext) -> None:
        self.sent = False

    def next_tuple(self) -> None:
        if not self.sent:
            self.sent = True
            self.emit([1, 2], msg_id="m")


def test_emit_outside_a_running_topology_says_so() -> None:
    with pytest.raises(ComputeError, match="only while the topology runs"):
        Once().emit([1, 2])

    class B(Bolt):
        def process(self, tup: Tuple) -> None:
            pass

    with pytest.raises(ComputeError, match="only while the topology runs"):
        B().emit([1])


def test_emits_that_break_the_declared_outputs(cluster: LocalCluster) -> None:
    errors: list[str] = []
    failed: list[Any] = []

    class Wrong(Bolt):
        outputs = {"default": ["x"], "side": ["x", "y"]}

        def process(self, tup: Tuple) -> None:
            for values, stream in (([1, 2], "default"), ([1], "side"), ([1], "other")):
                try:
                    self.emit(values, anchors=tup, stream=stream)
                except EmitError as exc:
                    errors.append(str(exc))
            self.emit([1, 2, 3], anchors=tup)  # uncaught: fails the input tuple

    class Src(Once):
        def fail(self, msg_id: Any) -> None:
            failed.append(msg_id)

    topo = Topology("emit-errors")
    topo.spout("s", Src)
    topo.bolt("w", Wrong).shuffle_grouping("s")
    cluster.submit(topo)
    cluster.wait_idle(timeout=10)

    assert len(errors) == 3
    assert "'w' emitted 2 values on stream 'default', which declares 1 fields ['x']" in errors[0]
    assert "'w' emitted 1 values on stream 'side', which declares 2 fields" in errors[1]
    assert "undeclared stream 'other'; declared: ['default', 'side']" in errors[2]
    assert failed == ["m"]


def test_emit_works_from_open_and_prepare(cluster: LocalCluster) -> None:
    got: list[tuple[str, Any]] = []
    acked: list[Any] = []

    class Early(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            self.emit(["from-open"], msg_id="early")

        def next_tuple(self) -> None:
            pass

        def ack(self, msg_id: Any) -> None:
            acked.append(msg_id)

    class Relay(Bolt):
        outputs = ["n"]

        def prepare(self, context: TopologyContext) -> None:
            self.emit(["from-prepare"])

        def process(self, tup: Tuple) -> None:
            self.emit([tup["n"]], anchors=tup)

    class Sink(Bolt):
        def process(self, tup: Tuple) -> None:
            got.append((tup.source, tup["n"]))

    topo = Topology("early")
    topo.spout("s", Early)
    topo.bolt("r", Relay).shuffle_grouping("s")
    topo.bolt("k", Sink).shuffle_grouping("r")
    cluster.submit(topo)
    cluster.wait_idle(timeout=10)
    assert sorted(got) == [("r", "from-open"), ("r", "from-prepare")]
    assert acked == ["early"]


def test_a_spout_tuple_nobody_subscribes_to_is_acked_at_once(cluster: LocalCluster) -> None:
    acked: list[Any] = []

    class Two(Spout):
        outputs = {"default": ["n"], "unread": ["n"]}

        def open(self, context: TopologyContext) -> None:
            self.sent = False

        def next_tuple(self) -> None:
            if not self.sent:
                self.sent = True
                self.emit([1], msg_id="unread", stream="unread")

        def ack(self, msg_id: Any) -> None:
            acked.append(msg_id)

    class Sink(Bolt):
        def process(self, tup: Tuple) -> None:
            pass

    topo = Topology("unread")
    topo.spout("s", Two)
    topo.bolt("k", Sink).shuffle_grouping("s")
    cluster.submit(topo)
    cluster.wait_idle(timeout=10)
    assert acked == ["unread"]
