"""Clusters run submitted topologies: ``LocalCluster`` inside this process, for
development and tests; ``ProcessCluster`` (compute.process_cluster) over several worker
processes. ``Cluster`` is what both promise, as Storm's ILocalCluster is."""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Generic, Self, TypeVar

from squall.compute.config import Config
from squall.compute.exceptions import ComputeError, TopologyError
from squall.compute.metrics import ComponentMetrics
from squall.compute.topology import Topology, TopologySpec
from squall.compute.worker import Worker

__all__ = ["Cluster", "LocalCluster"]

Running = TypeVar("Running")


class Cluster(ABC, Generic[Running]):
    """Topologies by name: submit, wait, read metrics, kill. A context manager that kills
    every topology on exit."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self._running: dict[str, Running] = {}

    @abstractmethod
    def submit(self, topology: Topology | TopologySpec, config: Config | None = None) -> None:
        """Validate, then start ``topology``; raises TopologyError if it is not valid and
        ComputeError if a component's ``open``/``prepare`` raised."""

    @abstractmethod
    def kill(self, name: str, wait: float = 0.0) -> None:
        """Deactivate the spouts, give trees in flight up to ``wait`` seconds to finish,
        then stop the topology."""

    @abstractmethod
    def wait_idle(self, timeout: float = 30.0, name: str | None = None) -> None:
        """Wait until the tuple trees in flight have completed or failed; IdleTimeout
        otherwise."""

    @abstractmethod
    def metrics(self, name: str | None = None) -> dict[str, ComponentMetrics]:
        """Per-component metrics of ``name`` (or of the only running topology)."""

    @property
    def topologies(self) -> list[str]:
        return sorted(self._running)

    def shutdown(self) -> None:
        for name in list(self._running):
            self.kill(name)

    def _new(self, name: str) -> None:
        if name in self._running:
            raise ComputeError(f"a topology named {name!r} is already running; kill it first")

    def _get(self, name: str | None) -> Running:
        """The running topology ``name``, or the only one when ``name`` is None."""
        if name is None:
            if len(self._running) != 1:
                raise ComputeError(f"name the topology: running are {sorted(self._running)}")
            return next(iter(self._running.values()))
        try:
            return self._running[name]
        except KeyError:
            raise ComputeError(
                f"no running topology {name!r}; running: {sorted(self._running)}"
            ) from None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


class LocalCluster(Cluster[Worker]):
    """Runs each submitted topology on a worker thread of this process.

    Use as a context manager so that every topology is killed on exit::

        with LocalCluster(Config(message_timeout=30)) as cluster:
            cluster.submit(topo)
            cluster.wait_idle(timeout=30)
    """

    def submit(self, topology: Topology | TopologySpec, config: Config | None = None) -> None:
        spec = topology.build() if isinstance(topology, Topology) else topology
        config = config or self.config
        if config.workers > 1:
            raise TopologyError(
                f"LocalCluster runs a topology in one worker, in this process; for "
                f"Config(workers={config.workers}) use ProcessCluster, which spreads the "
                f"tasks over that many worker processes"
            )
        self._new(spec.name)
        worker = Worker(spec, config)
        worker.start()
        self._running[spec.name] = worker

    def kill(self, name: str, wait: float = 0.0) -> None:
        """Deactivate the spouts, give trees in flight up to ``wait`` seconds to finish,
        then stop the topology (spouts closed, bolts cleaned up)."""
        worker = self._get(name)
        worker.deactivate()
        if wait > 0:
            # killing anyway after ``wait``: pending trees are abandoned, as in Storm
            with contextlib.suppress(ComputeError):
                worker.wait_idle(wait)
        worker.stop()
        del self._running[name]

    def wait_idle(self, timeout: float = 30.0, name: str | None = None) -> None:
        """Wait until every emitted tuple tree has completed or failed and nothing is in
        flight; raises IdleTimeout otherwise."""
        deadline = time.monotonic() + timeout
        for worker in [self._get(name)] if name else list(self._running.values()):
            worker.wait_idle(max(deadline - time.monotonic(), 0.0))

    def metrics(self, name: str | None = None) -> dict[str, ComponentMetrics]:
        return self._get(name).metrics()
