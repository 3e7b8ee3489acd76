"""The public surface of compute/: pinned, importable, with one error root."""

from __future__ import annotations

import importlib

import pytest

import squall.compute as compute
from squall.exceptions import SquallError

CORE_MODULES = [
    "acker",
    "bolt",
    "cluster",
    "collector",
    "component",
    "config",
    "context",
    "exceptions",
    "executor",
    "grouping",
    "messaging",
    "metrics",
    "process_cluster",
    "scheduler",
    "spout",
    "topology",
    "transfer",
    "tuple",
    "worker",
    "worker_process",
]


def test_compute_exports_are_pinned() -> None:
    assert sorted(compute.__all__) == [
        "Bolt",
        "ComponentMetrics",
        "ComputeError",
        "Config",
        "EmitError",
        "FailedException",
        "IdleTimeout",
        "LocalCluster",
        "ProcessCluster",
        "Spout",
        "Topology",
        "TopologyContext",
        "TopologyError",
        "Tuple",
        "TupleWindow",
        "WindowSpec",
        "WindowedBolt",
        "sliding",
        "tumbling",
    ]
    for name in compute.__all__:
        exported = getattr(compute, name)
        assert exported.__module__.startswith("squall.compute."), f"{name}: {exported.__module__}"


@pytest.mark.parametrize("name", CORE_MODULES)
def test_every_core_module_declares_what_it_exports(name: str) -> None:
    module = importlib.import_module(f"squall.compute.{name}")
    assert module.__doc__, f"squall.compute.{name} has no docstring"
    exported = module.__all__
    assert exported and len(set(exported)) == len(exported)
    for item in exported:
        assert hasattr(module, item), f"squall.compute.{name}.__all__ names missing {item!r}"


def test_errors_share_one_root() -> None:
    assert issubclass(compute.ComputeError, SquallError)
    for error in (
        compute.TopologyError,
        compute.EmitError,
        compute.IdleTimeout,
        compute.FailedException,
    ):
        assert issubclass(error, compute.ComputeError)
    assert issubclass(compute.IdleTimeout, TimeoutError)


def test_the_documented_example_runs() -> None:
    """design.md's word count, verbatim in shape, with a ground truth."""
    lines = ["the quick brown fox", "the lazy dog", "the end"]
    totals: dict[str, int] = {}
    acked: list[int] = []

    class Lines(compute.Spout):
        outputs = ["line"]

        def open(self, context: compute.TopologyContext) -> None:
            self.left = list(enumerate(lines))

        def next_tuple(self) -> None:
            if self.left:
                i, line = self.left.pop(0)
                self.emit([line], msg_id=i)

        def ack(self, msg_id: object) -> None:
            acked.append(msg_id)  # type: ignore[arg-type]

    class Split(compute.Bolt):
        outputs = ["word"]

        def process(self, tup: compute.Tuple) -> None:
            for w in tup["line"].split():
                self.emit([w], anchors=[tup])

    class Count(compute.Bolt):
        def process(self, tup: compute.Tuple) -> None:
            totals[tup["word"]] = totals.get(tup["word"], 0) + 1

    topo = compute.Topology("word-count")
    topo.spout("lines", Lines, parallelism=1)
    topo.bolt("split", Split, parallelism=2).shuffle_grouping("lines")
    topo.bolt("count", Count, parallelism=4).fields_grouping("split", ["word"])
    with compute.LocalCluster(
        compute.Config(message_timeout=30, max_spout_pending=1000)
    ) as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=30)

    want: dict[str, int] = {}
    for line in lines:
        for w in line.split():
            want[w] = want.get(w, 0) + 1
    assert totals == want
    assert sorted(acked) == [0, 1, 2]
