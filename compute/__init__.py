"""Squall's Storm-style stream compute tier.

The user's API: ``Topology`` (builder), ``Spout``, ``Bolt``, ``Tuple``, windowed bolts,
``Config``, ``LocalCluster`` (one process) and ``ProcessCluster`` (tasks spread over
``Config.workers`` processes). Everything else (executors, acker, worker) is runtime.
"""

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
from squall.compute.process_cluster import ProcessCluster
from squall.compute.spout import Spout
from squall.compute.topology import Topology
from squall.compute.tuple import Tuple
from squall.compute.window import TupleWindow, WindowedBolt, WindowSpec, sliding, tumbling

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
