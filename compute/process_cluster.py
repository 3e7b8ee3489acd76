"""``ProcessCluster``: one topology's tasks spread over several worker processes.

Storm's worker model on one machine: the cluster places the tasks on
``Config.workers`` processes (``even_assignment``), starts each with the ``spawn``
method, and plays Storm's supervisor: a worker process that dies (killed, or its loop
crashed) is replaced by a new one with the same index and tasks. Tuples and acks cross
between the processes as bytes (``compute.messaging``); a tree rooted at a spout is
tracked by the acker of the spout's worker, wherever its tuples go. What a dead worker
held is lost: trees that crossed it time out after ``Config.message_timeout`` and their
spouts replay them, so processing is at-least-once, as in Storm; a replaced spout
starts from its own source's position, a replaced bolt with empty state.

A checkpoint is a cut of one worker's thread, so ``Config.checkpoint_interval`` is
refused with several workers: exactly-once belongs to partition-local workers
(compute.runner), which run every task of the topology in each process.

Components cross to the workers pickled: classes and factories by module and name,
instances with their attributes. ``submit`` refuses what does not pickle, and a
worker that cannot import a component reports it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import pickle
import shutil
import tempfile
import threading
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from squall.compute import worker_process
from squall.compute.cluster import Cluster
from squall.compute.config import Config
from squall.compute.exceptions import ComputeError, IdleTimeout, TopologyError
from squall.compute.metrics import ComponentMetrics
from squall.compute.scheduler import even_assignment
from squall.compute.topology import Topology, TopologySpec

__all__ = ["ProcessCluster"]

log = logging.getLogger(__name__)

_START_TIMEOUT = 60.0  # seconds for a worker process to import, open and prepare
_STOP_TIMEOUT = 10.0


class ProcessCluster(Cluster["_Topology"]):
    """Runs each submitted topology over ``Config.workers`` worker processes.

    Use as a context manager so that every worker process is stopped on exit::

        with ProcessCluster(Config(workers=2)) as cluster:
            cluster.submit(topo)
            cluster.wait_idle(timeout=30)

    Its methods mirror ``LocalCluster``'s; ``worker_pids`` and ``restarts`` show the
    processes and how often one was replaced.
    """

    def __init__(self, config: Config | None = None, start_method: str = "spawn") -> None:
        super().__init__(config)
        self._context = multiprocessing.get_context(start_method)

    def submit(self, topology: Topology | TopologySpec, config: Config | None = None) -> None:
        """Validate, start the worker processes and activate the spouts once all are up.
        Raises TopologyError if the topology is not valid or a component cannot be sent
        to a worker process, ComputeError if a component's ``open``/``prepare`` raised."""
        spec = topology.build() if isinstance(topology, Topology) else topology
        self._new(spec.name)
        config = config or self.config
        if config.checkpoint_interval is not None and config.workers > 1:
            raise TopologyError(
                f"topology {spec.name!r}: checkpoint_interval needs every task in one "
                f"worker (a checkpoint is a cut of one worker's thread; tuples between "
                f"processes would escape it). For exactly-once, run partition-local "
                f"workers (compute.runner); with workers > 1, leave checkpoint_interval None"
            )
        running = _Topology(spec, config, self._context)
        running.start()
        self._running[spec.name] = running

    def kill(self, name: str, wait: float = 0.0) -> None:
        """Deactivate the spouts, give trees in flight up to ``wait`` seconds, then stop
        the worker processes."""
        running = self._get(name)
        running.broadcast(("deactivate",))
        if wait > 0:
            with contextlib.suppress(ComputeError):
                running.wait_idle(time.monotonic() + wait)
        running.stop()
        del self._running[name]

    def wait_idle(self, timeout: float = 30.0, name: str | None = None) -> None:
        """Wait until no tracked tuple tree is pending in any worker and every worker
        passed a round with nothing to do, twice in a row with no work done in between;
        raises IdleTimeout otherwise. Untracked tuples (emitted without a ``msg_id`` or
        anchors) still in transit between processes are not awaited."""
        deadline = time.monotonic() + timeout
        for running in [self._get(name)] if name else list(self._running.values()):
            running.wait_idle(deadline)

    def metrics(self, name: str | None = None) -> dict[str, ComponentMetrics]:
        """Per component, summed over the live worker processes (what a replaced worker
        counted is gone with it); latencies and capacity are the workers' worst."""
        return self._get(name).metrics()

    def worker_pids(self, name: str | None = None) -> list[int]:
        """The process id of each worker, by worker index."""
        return self._get(name).pids()

    def restarts(self, name: str | None = None) -> int:
        """How many worker processes of the topology were replaced after dying."""
        return self._get(name).restarts


def _payload(spec: TopologySpec) -> bytes:
    """The pickled topology; TopologyError naming the component that does not pickle."""
    for comp in spec.components.values():
        parts: list[Any] = [comp.factory, *(sub.grouping for sub in comp.inputs)]
        try:
            pickle.dumps(parts)
        except Exception as exc:
            raise TopologyError(
                f"component {comp.name!r} cannot be sent to a worker process: {exc}. With "
                f"workers in several processes, give each spout, bolt and custom grouping "
                f"as a class or function defined at the top level of an importable module "
                f"(not inside a function, not a lambda), or as an instance whose attributes "
                f"pickle (no open files, sockets, locks or lambdas: open them in "
                f"open/prepare)"
            ) from exc
    return pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)


class _Topology:
    """The worker processes of one topology, the control pipes, and their supervisor."""

    def __init__(self, spec: TopologySpec, config: Config, context: Any) -> None:
        self.spec = spec
        self.config = config
        self._context = context
        self._payload = _payload(spec)
        self.assignment = even_assignment(spec, config.workers)
        self._dir = tempfile.mkdtemp(prefix="squall-")
        self._addresses = [os.path.join(self._dir, f"w{i}") for i in range(config.workers)]
        self._authkey = os.urandom(32)
        self._procs: list[Any] = []
        self._controls: list[Connection] = []
        self._lock = threading.Lock()  # the control pipes: requests vs replacement
        self._seq = itertools.count()
        self._stopping = threading.Event()
        self._monitor = threading.Thread(
            target=self._supervise, name=f"supervisor-{spec.name}", daemon=True
        )
        self.restarts = 0

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        try:
            for index in range(self.config.workers):
                proc, control = self._spawn(index)
                self._procs.append(proc)
                self._controls.append(control)
            for index in range(self.config.workers):
                self._await_ready(index, self._procs[index], self._controls[index])
        except BaseException:
            self._stopping.set()
            self._stop_processes()
            raise
        self.broadcast(("activate",))
        self._monitor.start()

    def _spawn(self, index: int) -> tuple[Any, Connection]:
        ours, theirs = self._context.Pipe()
        proc = self._context.Process(
            target=worker_process.run,
            args=(
                self._payload,
                self.config,
                self.assignment,
                index,
                self._addresses,
                self._authkey,
                theirs,
            ),
            name=f"squall-{self.spec.name}-worker-{index}",
            daemon=True,
        )
        proc.start()
        theirs.close()
        return proc, ours

    def _await_ready(self, index: int, proc: Any, control: Connection) -> None:
        """Raise the worker's own start error, or ComputeError if it died silently."""
        what = f"worker {index} of topology {self.spec.name!r}"
        if not wait([control, proc.sentinel], _START_TIMEOUT):
            raise ComputeError(f"{what} did not start within {_START_TIMEOUT:.0f}s")
        try:
            reply = control.recv()
        except (EOFError, OSError):
            proc.join(_STOP_TIMEOUT)
            raise ComputeError(
                f"{what} exited with code {proc.exitcode} before it started; see its stderr"
            ) from None
        if reply[0] == "error":
            error = TopologyError if reply[1] == "topology" else ComputeError
            raise error(reply[2])

    def stop(self) -> None:
        self._stopping.set()
        if self._monitor.is_alive():
            self._monitor.join()
        self._stop_processes()

    def _stop_processes(self) -> None:
        for control in self._controls:
            with contextlib.suppress(OSError):
                control.send(("stop",))
        for proc in self._procs:
            proc.join(_STOP_TIMEOUT)
            if proc.exitcode is None:
                log.warning("worker %s did not stop; terminating it", proc.name)
                proc.terminate()
                proc.join(_STOP_TIMEOUT)
            proc.close()
        for control in self._controls:
            control.close()
        self._procs, self._controls = [], []
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- supervision (Storm's supervisor: same index, same tasks) -----------------------
    def _supervise(self) -> None:
        while not self._stopping.is_set():
            sentinels = {proc.sentinel: i for i, proc in enumerate(self._procs)}
            for sentinel in wait(list(sentinels), 0.1):
                if self._stopping.is_set():
                    return
                self._replace(sentinels[sentinel])

    def _replace(self, index: int) -> None:
        dead = self._procs[index]
        dead.join()
        log.warning(
            "worker %d of topology %r exited with code %s; starting a replacement",
            index,
            self.spec.name,
            dead.exitcode,
        )
        backoff = 0.5
        while not self._stopping.is_set():
            proc, control = self._spawn(index)
            try:
                self._await_ready(index, proc, control)
            except ComputeError as exc:
                log.error("replacement of worker %d failed: %s; retrying", index, exc)
                with contextlib.suppress(OSError):
                    control.send(("stop",))
                proc.join(_STOP_TIMEOUT)
                proc.kill()
                proc.join()
                proc.close()
                control.close()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            with contextlib.suppress(OSError):
                control.send(("activate",))
            with self._lock:
                self._controls[index].close()
                self._procs[index], self._controls[index] = proc, control
            dead.close()
            self.restarts += 1
            return

    # -- requests to the workers --------------------------------------------------------
    def broadcast(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            for control in self._controls:
                with contextlib.suppress(OSError):
                    control.send(message)

    def _ask_all(self, op: str, timeout: float, *args: Any) -> list[Any]:
        """Each worker's reply to ``(op, seq, *args)``; None from one that did not answer
        in ``timeout`` seconds (dead, or being replaced)."""
        seq = next(self._seq)
        with self._lock:
            sent = []
            for control in self._controls:
                try:
                    control.send((op, seq, *args))
                    sent.append(True)
                except OSError:
                    sent.append(False)
            deadline = time.monotonic() + timeout
            return [
                _reply(control, seq, deadline) if ok else None
                for control, ok in zip(self._controls, sent, strict=True)
            ]

    def wait_idle(self, deadline: float) -> None:
        previous: list[int] | None = None
        silent: list[int] = []
        started = time.monotonic()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                down = f"; worker(s) {silent} not answering" if silent else ""
                raise IdleTimeout(
                    f"topology {self.spec.name!r} not idle after "
                    f"{time.monotonic() - started:.3g}s over {self.config.workers} workers"
                    f"{down}"
                )
            replies = self._ask_all("idle", min(left, 1.0) + 1.0, min(left, 1.0))
            silent = [i for i, r in enumerate(replies) if r is None]
            if all(r is not None and r[0] for r in replies):
                done = [r[1] for r in replies]
                if done == previous:
                    return
                previous = done
            else:
                previous = None
                self._stopping.wait(0.01)  # a worker is down or being replaced

    def metrics(self) -> dict[str, ComponentMetrics]:
        out = {
            name: ComponentMetrics(name, comp.parallelism)
            for name, comp in self.spec.components.items()
        }
        executed_ms: dict[str, float] = {}
        for per_worker in self._ask_all("metrics", 10.0):
            for name, m in (per_worker or {}).items():
                total = out[name]
                total.emitted += m.emitted
                total.acked += m.acked
                total.failed += m.failed
                total.executed += m.executed
                executed_ms[name] = executed_ms.get(name, 0.0) + m.execute_latency_ms * m.executed
                total.capacity = max(total.capacity, m.capacity)
                total.complete_latency_ms_p50 = max(
                    total.complete_latency_ms_p50, m.complete_latency_ms_p50
                )
                total.complete_latency_ms_p99 = max(
                    total.complete_latency_ms_p99, m.complete_latency_ms_p99
                )
        for name, ms in executed_ms.items():
            if out[name].executed:
                out[name].execute_latency_ms = ms / out[name].executed
        return out

    def pids(self) -> list[int]:
        with self._lock:
            return [proc.pid for proc in self._procs]


def _reply(control: Connection, seq: int, deadline: float) -> Any:
    """The reply to request ``seq``, skipping late replies to earlier requests."""
    try:
        while control.poll(max(deadline - time.monotonic(), 0.0)):
            reply = control.recv()
            if reply[0] == "reply" and reply[1] == seq:
                return reply[2]
    except (EOFError, OSError):
        pass
    return None
