"""Squall's Storm-style stream compute tier.

The user's API: ``Topology`` (builder), ``Spout``, ``Bolt``, ``Tuple``, windowed bolts,
``Config`` and ``LocalCluster``. Everything else (executors, acker, worker) is runtime.
"""

from compute.cluster import LocalCluster
from compute.component import Bolt, Spout
from compute.config import Config
from compute.context import TopologyContext
from compute.exceptions import (
    ComputeError,
    EmitError,
    FailedException,
    IdleTimeout,
    TopologyError,
)
from compute.metrics import ComponentMetrics
from compute.topology import Topology
from compute.tuple import Tuple
from compute.window import TupleWindow, WindowedBolt, WindowSpec, sliding, tumbling

__all__ = [
    "Bolt",
    "ComponentMetrics",
    "ComputeError",
    "Config",
    "EmitError",
    "FailedException",
    "IdleTimeout",
    "LocalCluster",
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
