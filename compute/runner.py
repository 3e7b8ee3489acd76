"""Running a topology for real: one worker in this process, or a supervisor of several.

``run_worker`` is a Storm worker: it runs every task of the topology on one thread
until SIGINT/SIGTERM, and exits non-zero if the topology crashes, so that a supervisor
restarts it. Workers are stateless: their progress lives in committed broker offsets.

``Supervisor`` is Storm's supervisor in miniature: it keeps N worker processes alive,
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

from compute.config import Config
from compute.topology import Topology
from compute.worker import Worker

__all__ = ["Supervisor", "run_worker"]

log = logging.getLogger("compute.runner")


def run_worker(topology: Topology, config: Config) -> int:
    """Run until signalled (exit 0) or crashed (exit 1)."""
    worker = Worker(topology.build(), config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    log.info("topology %r running (pid %d)", topology.name, os.getpid())
    while not stop.wait(0.2):
        if worker.crashed is not None:
            log.error("topology %r crashed: %r", topology.name, worker.crashed)
            worker.stop()
            return 1
    worker.deactivate()
    worker.stop()
    return 0


class Supervisor:
    """Keeps ``workers`` copies of ``command`` running, each with SQUALL_WORKER_INDEX."""

    def __init__(self, command: Sequence[str], workers: int, backoff: float = 1.0) -> None:
        self.command = list(command)
        self.workers = workers
        self.backoff = backoff
        self.restarts = 0
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()

    def _spawn(self, index: int) -> None:
        env = dict(os.environ, SQUALL_WORKER_INDEX=str(index))
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
