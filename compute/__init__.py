"""Squall's Storm-style stream compute tier.

The user's API: ``Topology`` (builder), ``Spout``, ``Bolt``, ``Tuple``, windowed bolts,
``Config``, ``LocalCluster`` (one process) and ``ProcessCluster`` (tasks spread over
``Config.workers`` processes). Everything else (executors, acker, worker) is runtime.
"""

from typing import TYPE_CHECKING

from squall.compute.bolt import Bolt
from squall.compute.cluster import LocalCluster
from squall.compute.config import Config
from squall.compute.context import TopologyContext
from squall.compute.exceptions import (
    ComputeError,
    EmitError,
    FailedException,
    IdleTimeout,
    TopologyError,
)
from squall.compute.metrics import ComponentMetrics
from squall.compute.spout import Spout
from squall.compute.topology import Topology
from squall.compute.tuple import Tuple
from squall.compute.window import TupleWindow, WindowedBolt, WindowSpec, sliding, tumbling

if TYPE_CHECKING:
    from squall.compute.process_cluster import ProcessCluster

__all__ = [
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


def __getattr__(name: str) -> object:
    """``ProcessCluster`` on first use: multiprocessing stays out of single-process
    workers (about 2 MiB and 15 ms of imports)."""
    if name == "ProcessCluster":
        from squall.compute.process_cluster import ProcessCluster

        return ProcessCluster
    raise AttributeError(f"module 'squall.compute' has no attribute {name!r}")
