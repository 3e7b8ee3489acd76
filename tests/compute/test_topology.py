"""Topology building and validation: every TopologyError names what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from squall.compute import Bolt, ComputeError, LocalCluster, Spout, Topology, TopologyError, Tuple


class Words(Spout):
    outputs = ["word", "n"]

    def next_tuple(self) -> None:
        pass


class Streams(Spout):
    outputs = {"default": ["word"], "errors": ["reason"]}

    def next_tuple(self) -> None:
        pass


class Sink(Bolt):
    outputs = ["x"]

    def process(self, tup: Tuple) -> None:
        pass


def build_error(topo: Topology) -> str:
    with pytest.raises(TopologyError) as info:
        topo.build()
    return str(info.value)


def test_a_valid_topology_builds_in_any_declaration_order() -> None:
    topo = Topology("ok")
    topo.bolt("count", Sink, parallelism=3).fields_grouping("split", ["x"])
    topo.bolt("split", Sink, parallelism=2).shuffle_grouping("words")
    topo.spout("words", Words)
    spec = topo.build()
    assert [s.name for s in spec.spouts] == ["words"]
    assert sorted(b.name for b in spec.bolts) == ["count", "split"]
    ids = [t for c in spec.components.values() for t in c.task_ids]
    assert sorted(ids) == list(range(1, 7))
    assert [(c.name, g.kind) for c, g in spec.subscribers("split", "default")] == [
        ("count", "fields")
    ]
    assert spec.components["words"].outputs == {"default": ("word", "n")}


def test_unknown_source_component() -> None:
    topo = Topology("t")
    topo.spout("words", Words)
    topo.bolt("b", Sink).shuffle_grouping("words")
    topo.bolt("c", Sink).shuffle_grouping("wrods")
    msg = build_error(topo)
    assert "'c'" in msg and "'wrods'" in msg and "'words'" in msg  # lists the known ones


def test_unknown_stream() -> None:
    topo = Topology("t")
    topo.spout("s", Streams)
    topo.bolt("b", Sink).shuffle_grouping("s", stream="error")
    msg = build_error(topo)
    assert "'b'" in msg and "'error'" in msg and "'errors'" in msg


@pytest.mark.parametrize("kind", ["fields", "partial_key"])
def test_grouping_on_an_undeclared_field(kind: str) -> None:
    topo = Topology("t")
    topo.spout("s", Words)
    getattr(topo.bolt("b", Sink), f"{kind}_grouping")("s", ["word", "count"])
    msg = build_error(topo)
    assert f"{kind}_grouping" in msg and "'count'" in msg and "'word'" in msg


def test_grouping_on_a_field_of_another_stream() -> None:
    topo = Topology("t")
    topo.spout("s", Streams)
    topo.bolt("b", Sink).fields_grouping("s", ["reason"])  # "reason" is on "errors"
    assert "'reason'" in build_error(topo)


def test_fields_grouping_needs_a_field() -> None:
    topo = Topology("t")
    topo.spout("s", Words)
    topo.bolt("b", Sink).fields_grouping("s", [])
    assert "at least one field" in build_error(topo)


def test_unreachable_components() -> None:
    topo = Topology("t")
    topo.spout("s", Words)
    topo.bolt("b", Sink).shuffle_grouping("s")
    topo.bolt("loop1", Sink).shuffle_grouping("loop2")
    topo.bolt("loop2", Sink).shuffle_grouping("loop1")
    msg = build_error(topo)
    assert "'loop1'" in msg and "'loop2'" in msg and "reached" in msg and "'b'" not in msg


def test_a_cycle_fed_by_a_spout_is_reachable() -> None:
    topo = Topology("t")
    topo.spout("s", Words)
    topo.bolt("a", Sink).shuffle_grouping("s").shuffle_grouping("b")
    topo.bolt("b", Sink).shuffle_grouping("a")
    topo.build()


def test_no_spout() -> None:
    topo = Topology("lonely")
    assert "no spout" in build_error(topo) and "'lonely'" in build_error(topo)
    topo.bolt("b", Sink)
    assert "no spout" in build_error(topo)


def test_bolt_without_inputs() -> None:
    topo = Topology("t")
    topo.spout("s", Words)
    topo.bolt("orphan", Sink)
    msg = build_error(topo)
    assert "'orphan'" in msg and "subscribes to nothing" in msg


def test_duplicate_name() -> None:
    topo = Topology("t")
    topo.spout("x", Words)
    with pytest.raises(TopologyError, match="'x' is declared twice"):
        topo.bolt("x", Sink)
    with pytest.raises(TopologyError, match="'x' is declared twice"):
        topo.spout("x", Words)


@pytest.mark.parametrize("parallelism", [0, -1, 1.5, "2", None, True])
def test_bad_parallelism(parallelism: Any) -> None:
    topo = Topology("t")
    with pytest.raises(TopologyError, match=r"spout 's': parallelism must be an integer >= 1"):
        topo.spout("s", Words, parallelism=parallelism)
    with pytest.raises(TopologyError, match=r"bolt 'b': parallelism must be an integer >= 1"):
        topo.bolt("b", Sink, parallelism=parallelism)


def test_reserved_stream_name() -> None:
    class System(Spout):
        outputs = {"__ack_init": ["x"]}

        def next_tuple(self) -> None:
            pass

    with pytest.raises(TopologyError, match=r"spout 's'.*reserved.*'__ack_init'"):
        Topology("t").spout("s", System)


@pytest.mark.parametrize("name", ["__acker", "", None])
def test_reserved_or_empty_component_name(name: Any) -> None:
    with pytest.raises(TopologyError, match="must be a non-empty string not starting '__'"):
        Topology("t").spout(name, Words)


@pytest.mark.parametrize(
    ("outputs", "problem"),
    [(["a", "a"], "declares a field twice"), (["a", ""], "non-empty strings"), ([1], "strings")],
)
def test_bad_output_fields(outputs: Any, problem: str) -> None:
    class Bad(Bolt):
        def process(self, tup: Tuple) -> None:
            pass

    Bad.outputs = outputs
    with pytest.raises(TopologyError, match=problem):
        Topology("t").bolt("b", Bad)


def test_component_of_the_wrong_kind() -> None:
    topo = Topology("t")
    with pytest.raises(TopologyError, match="Sink is not a Spout subclass"):
        topo.spout("s", Sink)
    with pytest.raises(TopologyError, match="not a Bolt"):
        topo.bolt("b", lambda: Words())
    with pytest.raises(TopologyError, match="expected a Bolt class, instance or factory"):
        topo.bolt("c", 42)


def test_custom_grouping_must_choose_tasks() -> None:
    topo = Topology("t")
    topo.spout("s", Words)
    topo.bolt("b", Sink).custom_grouping("s", object())
    msg = build_error(topo)
    assert "custom_grouping" in msg and "choose_tasks" in msg


def test_empty_topology_name() -> None:
    with pytest.raises(TopologyError, match="non-empty name"):
        Topology("")


def test_submitting_an_invalid_topology_starts_nothing() -> None:
    topo = Topology("bad")
    topo.spout("s", Words)
    topo.bolt("b", Sink).shuffle_grouping("nope")
    with LocalCluster() as cluster:
        with pytest.raises(TopologyError):
            cluster.submit(topo)
        assert cluster.topologies == []


def test_topology_error_is_a_compute_error() -> None:
    assert issubclass(TopologyError, ComputeError)
