"""``LocalCluster``: run topologies inside this process, for development and tests.

For a topology's tasks spread over several processes, see ``ProcessCluster``."""

from __future__ import annotations

import contextlib
import time
from types import TracebackType

from squall.compute.config import Config
from squall.compute.exceptions import ComputeError, TopologyError
from squall.compute.metrics import ComponentMetrics
from squall.compute.topology import Topology, TopologySpec
from squall.compute.worker import Worker

__all__ = ["LocalCluster"]


class LocalCluster:
    """Runs each submitted topology on a worker thread of this process.

    Use as a context manager so that every topology is killed on exit::

        with LocalCluster(Config(message_timeout=30)) as cluster:
            cluster.submit(topo)
            cluster.wait_idle(timeout=30)
    """

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self._workers: dict[str, Worker] = {}

    def submit(self, topology: Topology | TopologySpec, config: Config | None = None) -> None:
        """Validate, then start ``topology``; raises TopologyError if it is not valid and
        ComputeError if a component's ``open``/``prepare`` raised."""
        spec = topology.build() if isinstance(topology, Topology) else topology
        config = config or self.config
        if config.workers > 1:
            raise TopologyError(
                f"LocalCluster runs a topology in one worker, in this process; for "
                f"Config(workers={config.workers}) use ProcessCluster, which spreads the "
                f"tasks over that many worker processes"
            )
        if spec.name in self._workers:
            raise ComputeError(f"a topology named {spec.name!r} is already running; kill it first")
        worker = Worker(spec, config)
        worker.start()
        self._workers[spec.name] = worker

    def kill(self, name: str, wait: float = 0.0) -> None:
        """Deactivate the spouts, give trees in flight up to ``wait`` seconds to finish,
        then stop the topology (spouts closed, bolts cleaned up)."""
        worker = self._worker(name)
        worker.deactivate()
        if wait > 0:
            # killing anyway after ``wait``: pending trees are abandoned, as in Storm
            with contextlib.suppress(ComputeError):
                worker.wait_idle(wait)
        worker.stop()
        del self._workers[name]

    def wait_idle(self, timeout: float = 30.0, name: str | None = None) -> None:
        """Wait until every emitted tuple tree has completed or failed and nothing is in
        flight; raises IdleTimeout otherwise."""
        deadline = time.monotonic() + timeout
        for worker in [self._worker(name)] if name else list(self._workers.values()):
            worker.wait_idle(max(deadline - time.monotonic(), 0.0))

    def metrics(self, name: str | None = None) -> dict[str, ComponentMetrics]:
        """Per-component metrics of ``name`` (or of the only running topology)."""
        if name is None:
            if len(self._workers) != 1:
                raise ComputeError(f"name the topology: running are {sorted(self._workers)}")
            name = next(iter(self._workers))
        return self._worker(name).metrics()

    @property
    def topologies(self) -> list[str]:
        return sorted(self._workers)

    def shutdown(self) -> None:
        for name in list(self._workers):
            self.kill(name)

    def _worker(self, name: str) -> Worker:
        try:
            return self._workers[name]
        except KeyError:
            raise ComputeError(
                f"no running topology {name!r}; running: {sorted(self._workers)}"
            ) from None

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
