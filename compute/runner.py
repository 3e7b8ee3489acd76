"""Running a topology for real: one worker in this process, or a supervisor of several.

``run_worker`` is a Storm worker: it runs every task of the topology on one thread
until SIGINT/SIGTERM, and replaces the topology with a fresh one if it crashes.
Workers are stateless: their progress lives in committed broker offsets.

``WorkerSupervisor`` is Storm's supervisor in miniature (not to be confused with Druid's
Kafka supervisor, which ingests a topic): it keeps N worker processes alive,
restarting any that exits unexpectedly (with a back-off), and stops them all on
SIGINT/SIGTERM. Each worker process is a consumer-group member, so the broker spreads
the partitions among them and moves them when one dies.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from squall.compute.config import Config
from squall.compute.exceptions import ComputeError
from squall.compute.reporting import MetricsReporter
from squall.compute.topology import Topology, TopologySpec
from squall.compute.worker import Worker
from squall.gc_tuning import WORKER_THRESHOLDS, frozen_gc

__all__ = ["WORKER_INDEX_ENV", "WorkerSupervisor", "run_worker", "worker_command"]

WORKER_INDEX_ENV = "SQUALL_WORKER_INDEX"
"""How a supervisor tells each worker process its index (``TopologyContext.worker_index``)."""

log = logging.getLogger(__name__)


def run_worker(
    topology: Topology,
    config: Config,
    max_backoff: float = 30.0,
    worker_index: int = 0,
    reporter: MetricsReporter | None = None,
) -> int:
    """Run until SIGINT/SIGTERM; returns 0. A ``reporter`` publishes the worker's
    metrics every few seconds (compute.reporting).

    A crash (a bolt's ``pre_commit`` failing because the broker is down, say) discards
    the worker and starts a fresh one, after a back-off that doubles up to
    ``max_backoff`` seconds: it resumes from the committed offsets with empty state,
    as a restarted Storm worker does, so nothing is lost or counted twice.
    """
    spec = topology.build()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with frozen_gc(WORKER_THRESHOLDS):  # squall.gc_tuning: a third of the CPU otherwise
        _run_until_stopped(spec, config, stop, max_backoff, worker_index, reporter)
    return 0


def _run_until_stopped(
    spec: TopologySpec,
    config: Config,
    stop: threading.Event,
    max_backoff: float,
    index: int,
    reporter: MetricsReporter | None = None,
) -> None:
    backoff = 1.0
    while not stop.is_set():
        worker = Worker(spec, config, index=index)
        try:
            worker.start()
        except ComputeError as exc:
            log.error("topology %r could not start: %s; retrying in %.0fs", spec.name, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff)
            continue
        log.info("topology %r running (pid %d)", spec.name, os.getpid())
        started = time.monotonic()
        while not stop.wait(0.2) and worker.crashed is None:
            if reporter is not None:
                reporter.due_report(worker.metrics)
        if worker.crashed is None:
            worker.deactivate()
            worker.stop()
            return
        worker.stop()
        if time.monotonic() - started > 60:
            backoff = 1.0  # it ran a good while: this is a new incident
        log.error(
            "topology %r crashed (%r); restarting from the committed offsets in %.0fs",
            spec.name,
            worker.crashed,
            backoff,
        )
        stop.wait(backoff)
        backoff = min(backoff * 2, max_backoff)


class WorkerSupervisor:
    """Keeps ``workers`` copies of ``command`` running, each told its index in
    ``WORKER_INDEX_ENV``."""

    def __init__(self, command: Sequence[str], workers: int, backoff: float = 1.0) -> None:
        self.command = list(command)
        self.workers = workers
        self.backoff = backoff
        self.restarts = 0
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()

    def _spawn(self, index: int) -> None:
        env = dict(os.environ, **{WORKER_INDEX_ENV: str(index)})
        self._procs[index] = subprocess.Popen(self.command, env=env)
        log.info("worker %d started (pid %d)", index, self._procs[index].pid)

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        for i in range(self.workers):
            self._spawn(i)
        while not self._stop.wait(0.2):
            for i, proc in list(self._procs.items()):
                code = proc.poll()
                if code is not None:
                    self.restarts += 1
                    log.warning("worker %d exited with %s; restarting", i, code)
                    time.sleep(self.backoff)
                    self._spawn(i)
        for proc in self._procs.values():
            proc.terminate()
        for proc in self._procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        return 0


def worker_command(name: str) -> list[str]:
    """The command line of one worker of the named standard topology."""
    return [sys.executable, "-m", "squall", "topology", "run", name, "--workers", "1"]
