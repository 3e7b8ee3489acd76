"""Several collector worker processes sharing one listening port (``squall collector
--workers N``, ``SQUALL_COLLECTOR_WORKERS``).

One Python process tops out at about one core; Flume's JVM uses them all. The parent
binds the port once and starts N workers (spawned processes), each running its own agent
under uvicorn on the inherited socket: its own channel segment (a file channel in
``<dir>/worker-<i>``, so each worker's WAL and replay stand alone; a file sink appends to
``<name>.worker-<i><suffix>``), its own sink runner. A request is one transaction in
whichever worker accepted the connection, so "200 = durable" holds per worker.

The parent supervises: a worker that dies (kill -9, a crash) is started again with the
same index, so it replays its own segment; SIGTERM/SIGINT stop all workers gracefully.

Every worker publishes its Prometheus text to a shared folder each second; ``/metrics``
on any worker answers the sum over all workers (the lag gauge: the maximum), with
``squall_ingest_workers`` giving N. ``/healthz`` answers for the worker that took the
connection, and names it (``worker``, ``workers``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from squall.ingest.config import CollectorConfig
from squall.ingest.exceptions import CollectorConfigError

__all__ = ["PeerMetrics", "check_segments", "serve_workers", "worker_config"]

log = logging.getLogger(__name__)

_PUBLISH_EVERY = 1.0  # s between a worker's snapshots of its metrics
_MIN_LIFE = 5.0  # s: a worker failing sooner after its start is not restarted (a crash loop)
_MAX_SAMPLES = ("_lag_seconds",)  # merged by maximum (an age), not by sum


def worker_config(config: CollectorConfig, index: int) -> CollectorConfig:
    """Worker ``index``'s config: its own channel folder and file-sink path."""
    channel = dict(config.channel)
    if channel["type"] == "file":
        channel["dir"] = str(Path(channel["dir"]) / f"worker-{index}")
    sink = dict(config.sink)
    if sink["type"] == "file":
        path = Path(sink["path"])
        sink["path"] = str(path.with_name(f"{path.stem}.worker-{index}{path.suffix}"))
    return replace(config, channel=channel, sink=sink)


def _undelivered(directory: Path) -> int:
    """Events a file channel in ``directory`` still holds (0 if it holds no segment)."""
    from squall.ingest.channels import FileChannel

    if not any(directory.glob("wal-*.log")):
        return 0
    channel = FileChannel(directory)
    try:
        return channel.stats().events
    finally:
        channel.close()


def check_segments(config: CollectorConfig, workers: int) -> None:
    """Refuse a worker count that would strand undelivered events of a file channel:
    those of a single-process collector (segments in the folder itself) when
    ``workers`` > 1, or of ``worker-<i>`` folders with i >= ``workers`` (all of them
    when ``workers`` is 1)."""
    if config.channel["type"] != "file" or not Path(config.channel["dir"]).is_dir():
        return
    base = Path(config.channel["dir"])
    # one process uses the folder itself, so it reads no worker-<i> folder
    stranded = [p for p in base.glob("worker-*") if workers == 1 or _index(p) >= workers]
    if workers > 1:
        stranded.append(base)
    held = {str(p): n for p in stranded if (n := _undelivered(p))}
    if held:
        raise CollectorConfigError(
            f"file channel segments {held} (folder: undelivered events) would not be "
            f"replayed by {workers} worker(s); run with the worker count that wrote them "
            "until they are drained, or point [channel] dir elsewhere"
        )


def _index(folder: Path) -> int:
    suffix = folder.name.removeprefix("worker-")
    return int(suffix) if suffix.isdigit() else -1


class PeerMetrics:
    """This worker's metrics merged with its peers' latest snapshots in ``folder``."""

    def __init__(self, folder: Path, index: int, workers: int) -> None:
        self.folder = folder
        self.index = index
        self.workers = workers

    def publish(self, text: bytes) -> None:
        """Write this worker's exposition text where its peers read it (atomically)."""
        tmp = self.folder / f".worker-{self.index}.tmp"
        tmp.write_bytes(text)
        os.replace(tmp, self.folder / f"worker-{self.index}.prom")

    def merge(self, own: bytes) -> bytes:
        """The exposition text of all workers: ``own`` (live) plus the others' files."""
        texts = [own.decode()]
        for i in range(self.workers):
            if i != self.index:
                # none yet while the worker starts (or starts again after a crash)
                with contextlib.suppress(OSError):
                    texts.append((self.folder / f"worker-{i}.prom").read_text())
        registry = CollectorRegistry()
        registry.register(_Merged(texts, self.workers))
        return generate_latest(registry)


class _Merged(Collector):
    def __init__(self, texts: Iterable[str], workers: int) -> None:
        self._texts = texts
        self._workers = workers

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
        for text in self._texts:
            for fam in text_string_to_metric_families(text):
                families.setdefault(fam.name, fam)
                merged = values.setdefault(fam.name, {})
                for s in fam.samples:
                    if s.name.endswith("_created"):
                        continue  # per process; meaningless summed
                    key = (s.name, tuple(sorted(s.labels.items())))
                    old = merged.get(key)
                    if old is None:
                        merged[key] = s.value
                    elif s.name.endswith(_MAX_SAMPLES):
                        merged[key] = max(old, s.value)
                    else:
                        merged[key] = old + s.value
        for name, fam in families.items():
            out = Metric(name, fam.documentation, fam.type)
            for (sample, labels), value in values[name].items():
                out.add_sample(sample, dict(labels), value)
            yield out
        workers = Metric("squall_ingest_workers", "Collector worker processes", "gauge")
        workers.add_sample("squall_ingest_workers", {}, float(self._workers))
        yield workers


def _publisher(peers: PeerMetrics, render: Any, stop: threading.Event) -> None:
    """Each second: publish this worker's metrics; stop the worker (SIGTERM, graceful)
    once its parent is gone (killed: nothing else would stop it)."""
    parent = os.getppid()
    while not stop.wait(_PUBLISH_EVERY):
        if os.getppid() != parent:
            log.warning("collector worker %d: its supervisor is gone; stopping", peers.index)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        try:
            peers.publish(render())
        except OSError as exc:  # the folder went away at shutdown
            log.debug("worker %d cannot publish its metrics: %s", peers.index, exc)


def _worker(
    config: CollectorConfig,
    index: int,
    workers: int,
    sock: socket.socket,
    folder: str,
    uvicorn_options: dict[str, Any],
) -> None:
    """One worker process: its agent on the shared socket until SIGTERM/SIGINT."""
    import uvicorn

    from squall.ingest.agent import build_agent

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    agent = build_agent(worker_config(config, index))
    peers = PeerMetrics(Path(folder), index, workers)
    agent.metrics.peers = peers
    agent.source.identity = {"worker": index, "workers": workers, "pid": os.getpid()}
    stop = threading.Event()
    own = agent.metrics.render_own
    threading.Thread(target=_publisher, args=(peers, own, stop), daemon=True).start()
    server = uvicorn.Server(uvicorn.Config(agent.app, **uvicorn_options))
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Supervisor:
    """Starts the workers, restarts one that dies, stops them all on a signal."""

    def __init__(self, config: CollectorConfig, workers: int, options: dict[str, Any]) -> None:
        self.config = config
        self.workers = workers
        self.options = options
        self.sock = _listen(config.source["host"], int(config.source["port"]))
        self.folder = tempfile.mkdtemp(prefix="squall-collector-metrics-")
        self.procs: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.started = [0.0] * workers  # when each worker was last started (monotonic)
        self.failed = False

    def _start(self, index: int) -> BaseProcess:
        self.started[index] = time.monotonic()
        args = (self.config, index, self.workers, self.sock, self.folder, self.options)
        proc = mp.get_context("spawn").Process(target=_worker, args=args, name=f"worker-{index}")
        proc.start()
        return proc

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        try:
            self.procs = [self._start(i) for i in range(self.workers)]
            while not self.stopping.wait(0.5):
                self._restart_dead()
        finally:
            self._stop_all()
            self.sock.close()
            shutil.rmtree(self.folder, ignore_errors=True)
        return 1 if self.failed else 0

    def _restart_dead(self) -> None:
        """Start a dead worker again; give up (stop all) on one that fails as it starts."""
        for i, proc in enumerate(self.procs):
            if proc.is_alive() or self.stopping.is_set():
                continue
            crashed = (proc.exitcode or 0) > 0  # an error, not a signal (kill -9 restarts)
            if crashed and time.monotonic() - self.started[i] < _MIN_LIFE:
                log.error(
                    "collector worker %d exited (%s) as it started; stopping", i, proc.exitcode
                )
                self.failed = True
                self.stopping.set()
                return
            log.warning("collector worker %d exited (%s); starting it again", i, proc.exitcode)
            self.procs[i] = self._start(i)

    def _stop_all(self) -> None:
        for proc in self.procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30.0
        for proc in self.procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()


def serve_workers(config: CollectorConfig, workers: int, uvicorn_options: dict[str, Any]) -> int:
    """Serve ``config`` from ``workers`` processes on one port until SIGTERM/SIGINT."""
    return _Supervisor(config, workers, uvicorn_options).run()
