"""``squall collector --workers N``: several processes on one port, each with its own
file channel segment, that together lose nothing across kill -9.

The real command in its own process group; a file sink under a plain file cannot write,
so accepted events stay in the channels until a collector with a working sink drains
them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from squall.ingest.config import load_config
from squall.ingest.exceptions import CollectorConfigError
from squall.ingest.workers import PeerMetrics, check_segments, worker_config
from squall.settings import load_settings

from .conftest import wait_for
from .test_durability import delivered, free_port

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """``python -m squall collector --workers N`` in a process group of its own."""

    def __init__(self, tmp: Path, port: int, sink_path: Path, workers: int = 2) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.tmp = tmp
        self.config = tmp / f"collector-{sink_path.parent.name}.toml"
        self.config.write_text(
            f"[source]\nport = {port}\n"
            f'[channel]\ntype = "file"\ndir = "{tmp / "channel"}"\n'
            f'[sink]\ntype = "file"\npath = "{sink_path}"\nbatch_size = 200\n'
            f"backoff_initial = 0.05\nbackoff_max = 0.2\n"
        )
        self.workers = workers
        self.log = tmp / "collector.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SQUALL_")}
        argv = [sys.executable, "-m", "squall", "--data-dir", str(self.tmp), "collector"]
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [*argv, "--config", str(self.config), "--workers", str(self.workers)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        wait_for(lambda: len(self.healths()) == self.workers, 60, "every worker to answer")

    def healths(self, tries: int = 40) -> dict[int, dict[str, Any]]:
        """Each worker's /healthz, by index, from new connections until all answered."""
        assert self.proc is not None and self.proc.poll() is None, self.stderr()
        seen: dict[int, dict[str, Any]] = {}
        for _ in range(tries):
            try:
                with httpx.Client(timeout=2) as http:  # a new connection each time
                    doc = http.get(self.url + "/healthz").json()
            except httpx.TransportError:
                continue
            seen[doc["worker"]] = doc
            if len(seen) == self.workers:
                break
        return seen

    def kill9_all(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _load_fresh(url: str, tag: str, stop: threading.Event, acked: list[str]) -> None:
    """50-event requests, each on a new connection (so that both workers get some:
    kept-alive connections may all land on one), until ``stop``."""

    def client(c: int) -> None:
        r = 0
        while not stop.is_set():
            bodies = [f"{tag}-c{c}-r{r}-e{i}" for i in range(50)]
            r += 1
            try:
                resp = httpx.post(url + "/events", json=[{"body": b} for b in bodies], timeout=10)
            except httpx.TransportError:
                return
            if resp.status_code == 200:
                acked.extend(bodies)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _send_until_both_hold(collector: Workers, tag: str) -> list[str]:
    """Load until each worker's channel holds events."""
    stop, acked = threading.Event(), []
    sender = threading.Thread(target=_load_fresh, args=(collector.url, tag, stop, acked))
    sender.start()
    try:
        wait_for(
            lambda: (
                all(h["channel"]["events"] > 0 for h in collector.healths().values())
                and len(collector.healths()) == 2
            ),
            60,
            "both workers to accept events",
        )
    finally:
        stop.set()
        sender.join()
    return acked


def test_workers_share_the_port_and_lose_nothing_across_kill_9(tmp_path: Path) -> None:
    port = free_port()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("the sink cannot write under a file")
    out = tmp_path / "out" / "out.jsonl"
    broken = Workers(tmp_path, port, blocker / "out.jsonl")
    broken.start()
    try:
        acked = _send_until_both_hold(broken, "w")
        held = {i: h["channel"]["events"] for i, h in broken.healths().items()}
    finally:
        broken.kill9_all()
    assert sum(held.values()) == len(acked) > 0
    assert sorted(p.name for p in (tmp_path / "channel").iterdir()) == ["worker-0", "worker-1"]

    working = Workers(tmp_path, port, out)
    working.start()
    try:  # each worker replays its own segment into its own sink file
        files = [out.with_name(f"out.worker-{i}.jsonl") for i in range(2)]
        wait_for(
            lambda: sum(len(delivered(f)) for f in files if f.exists()) >= len(acked),
            60,
            "the replayed events",
        )
        got = [delivered(f) for f in files]
        assert all(got), "each worker delivered its own segment"
        assert set(got[0]) | set(got[1]) == set(acked)
        assert not set(got[0]) & set(got[1]), "no event was in two segments"
        metrics = httpx.get(working.url + "/metrics").text
        assert "squall_ingest_workers 2.0" in metrics
    finally:
        working.stop()


def test_a_killed_worker_is_restarted_and_replays_its_segment(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("the sink cannot write under a file")
    collector = Workers(tmp_path, free_port(), blocker / "out.jsonl")
    collector.start()
    try:
        _send_until_both_hold(collector, "r")
        before = collector.healths()[0]
        os.kill(before["pid"], signal.SIGKILL)
        wait_for(
            lambda: collector.healths().get(0, before)["pid"] != before["pid"],
            60,
            "the supervisor to start worker 0 again",
        )
        after = collector.healths()[0]
        assert after["channel"]["events"] == before["channel"]["events"]
    finally:
        collector.stop()
    assert collector.proc is not None and collector.proc.returncode == 0, collector.stderr()


def test_metrics_sum_the_workers(tmp_path: Path) -> None:
    peers = [PeerMetrics(tmp_path, i, 2) for i in range(2)]
    text = (
        b"# HELP squall_ingest_accepted_events_total Events\n"
        b"# TYPE squall_ingest_accepted_events_total counter\n"
        b"squall_ingest_accepted_events_total 5.0\n"
        b"# HELP squall_ingest_sink_lag_seconds Age\n"
        b"# TYPE squall_ingest_sink_lag_seconds gauge\n"
    )
    peers[1].publish(text + b"squall_ingest_sink_lag_seconds 2.0\n")
    merged = peers[0].merge(text + b"squall_ingest_sink_lag_seconds 3.0\n").decode()
    assert "squall_ingest_accepted_events_total 10.0" in merged
    assert "squall_ingest_sink_lag_seconds 3.0" in merged
    assert "squall_ingest_workers 2.0" in merged


def test_each_worker_has_its_own_segment_and_sink_file(tmp_path: Path) -> None:
    settings = load_settings({}, {"data_dir": tmp_path})
    config = replace(load_config(None, settings), sink={"type": "file", "path": "/x/o.jsonl"})
    one = worker_config(config, 1)
    assert one.channel["dir"] == str(tmp_path / "channel" / "worker-1")
    assert one.sink["path"] == "/x/o.worker-1.jsonl"


def test_a_worker_count_that_would_strand_events_is_refused(tmp_path: Path) -> None:
    from squall.ingest.channels import FileChannel

    settings = load_settings({}, {"data_dir": tmp_path})
    config = load_config(None, settings)
    channel = FileChannel(tmp_path / "channel" / "worker-2")
    with channel.transaction() as tx:
        tx.put([{"headers": {}, "body": "left behind"}])
        tx.commit()
    channel.close()
    check_segments(config, 3)  # worker-2 is replayed by worker 2
    for fewer in (2, 1):
        with pytest.raises(CollectorConfigError, match="worker-2"):
            check_segments(config, fewer)


def test_a_single_process_channel_is_not_left_to_workers(tmp_path: Path) -> None:
    from squall.ingest.channels import FileChannel

    config = load_config(None, load_settings({}, {"data_dir": tmp_path}))
    channel = FileChannel(tmp_path / "channel")
    with channel.transaction() as tx:
        tx.put([{"headers": {}, "body": "left behind"}])
        tx.commit()
    channel.close()
    check_segments(config, 1)
    with pytest.raises(CollectorConfigError, match="undelivered events"):
        check_segments(config, 2)
