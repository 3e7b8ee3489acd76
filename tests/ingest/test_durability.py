"""Durability of the file channel across kill -9 of a real ``squall collector`` process.

Every event answered 200 must come out of the sink after a restart; duplicates are
allowed only as at-least-once redelivery, and then carry the same ``id`` header.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import orjson

from .conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """``python -m squall collector`` with a config file, in its own process."""

    def __init__(self, tmp: Path, port: int, sink_path: Path, name: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.config = tmp / f"collector-{name}.toml"
        self.config.write_text(
            f"[source]\nport = {port}\n"
            f'[channel]\ntype = "file"\ndir = "{tmp / "channel"}"\n'
            f'[sink]\ntype = "file"\npath = "{sink_path}"\nbatch_size = 200\n'
            f"backoff_initial = 0.05\nbackoff_max = 0.2\n"
        )
        self.tmp = tmp
        self.log = tmp / "collector.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SQUALL_")}
        with self.log.open("ab") as err:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "squall",
                    "--data-dir",
                    str(self.tmp),
                    "collector",
                    "--config",
                    str(self.config),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

        def healthy() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.stderr()
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, timeout=30, what="the collector to start")

    def health(self) -> dict[str, Any]:
        doc: dict[str, Any] = httpx.get(self.url + "/healthz", timeout=5).json()
        return doc

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def load(url: str, tag: str, stop: threading.Event, acked: list[str], clients: int = 4) -> None:
    """Send 50-event requests of unique bodies until ``stop``; record acknowledged bodies."""

    def client(c: int) -> None:
        with httpx.Client(timeout=10) as http:
            r = 0
            while not stop.is_set():
                bodies = [f"{tag}-c{c}-r{r}-e{i}" for i in range(50)]
                r += 1
                try:
                    resp = http.post(url + "/events", json=[{"body": b} for b in bodies])
                except httpx.TransportError:
                    return  # the collector died under us
                if resp.status_code == 200:
                    acked.extend(bodies)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def delivered(path: Path) -> dict[str, set[str]]:
    """body -> the set of ids it was delivered with."""
    ids: dict[str, set[str]] = defaultdict(set)
    for line in path.read_bytes().splitlines():
        event = orjson.loads(line)
        ids[event["body"]].add(event["headers"]["id"])
    return ids


def test_every_acknowledged_event_survives_kill_9(tmp_path: Path) -> None:
    port = free_port()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("the sink cannot write under a file")
    out = tmp_path / "out.jsonl"
    broken = Collector(
        tmp_path, port, blocker / "out.jsonl", "broken"
    )  # sink down: all stays in channel
    working = Collector(tmp_path, port, out, "working")

    # 1. kill -9 while clients are sending and everything sits in the channel
    broken.start()
    stop, acked1 = threading.Event(), list[str]()
    sender = threading.Thread(target=load, args=(broken.url, "one", stop, acked1))
    sender.start()
    wait_for(lambda: len(acked1) >= 3000, timeout=60, what="3000 acknowledged events")
    broken.kill9()
    stop.set()
    sender.join()

    # 2. restart: the channel replays at least every acknowledged event
    working.start()
    try:
        wait_for(
            lambda: working.health()["channel"]["events"] == 0,
            timeout=60,
            what="the replayed channel to drain",
        )
        got = delivered(out)
        counts = [int(n) for n in re.findall(r"replayed (\d+) events", working.stderr())]
        assert counts and counts[0] >= len(acked1)  # the restart found them in the channel
        replayed = {b for b in got if b.startswith("one-")}
        assert len(replayed) >= len(acked1)  # count them: nothing acknowledged is missing
        assert set(acked1) <= replayed
        assert all(len(ids) == 1 for ids in got.values())  # no duplicate yet

        # 3. kill -9 while the sink is busy delivering, then restart once more
        stop, acked2 = threading.Event(), list[str]()
        sender = threading.Thread(target=load, args=(working.url, "two", stop, acked2))
        sender.start()
        wait_for(lambda: len(acked2) >= 5000, timeout=60, what="5000 more events")
        working.kill9()
        stop.set()
        sender.join()
        working.start()
        wait_for(
            lambda: working.health()["channel"]["events"] == 0,
            timeout=60,
            what="the channel to drain after the second kill",
        )
    finally:
        working.stop()
    got = delivered(out)
    missing = (set(acked1) | set(acked2)) - set(got)
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    # at-least-once: a redelivered event carries its original id, so it can be dropped
    assert all(len(ids) == 1 for ids in got.values())
    assert len({i for ids in got.values() for i in ids}) == len(got)
    assert len(got) >= len(acked1) + len(acked2)
