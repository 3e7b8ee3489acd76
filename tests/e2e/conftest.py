"""The embedded pipeline as a user runs it: collector, topology and query API as
separate ``squall`` processes on free ports, talking only through HTTP and the log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from squall.broker import open_broker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Pipeline:
    """Starts and stops the parts; posts events; queries."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.collector_port = free_port()
        self.serve_port = free_port()
        self.env = dict(
            os.environ,
            SQUALL_DATA_DIR=str(data_dir),
            SQUALL_COLLECTOR_PORT=str(self.collector_port),
            SQUALL_SERVE_PORT=str(self.serve_port),
        )
        self.env.pop("SQUALL_BROKER", None)
        self.env.pop("SQUALL_STORE", None)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.collector = f"http://127.0.0.1:{self.collector_port}"
        self.serve = f"http://127.0.0.1:{self.serve_port}"
        self.http = httpx.Client(timeout=30.0)

    def start(self, name: str) -> None:
        args = {
            "collector": ["collector"],
            "topology": ["topology", "run", "log-metrics"],
            "serve": ["serve"],
        }[name]
        with open(self.data_dir / f"{name}.log", "ab") as log:  # the child keeps its own fd
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "squall", *args], env=self.env, stdout=log, stderr=log
            )
        if name in ("collector", "serve"):
            url = self.collector if name == "collector" else self.serve
            wait_for(lambda: self._healthy(name, f"{url}/healthz"), 60, f"{name} to answer")

    def _healthy(self, name: str, url: str) -> bool:
        proc = self.procs[name]
        if proc.poll() is not None:
            log = (self.data_dir / f"{name}.log").read_text(errors="replace")
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{log[-3000:]}")
        try:
            return self.http.get(url).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, name: str) -> None:
        """kill -9, as a crash would."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.http.close()

    def post_lines(self, lines: list[str], service: str) -> None:
        for i in range(0, len(lines), 1000):
            body = ("\n".join(lines[i : i + 1000]) + "\n").encode()
            r = self.http.post(
                f"{self.collector}/v1/logs",
                params={"service": service},
                content=body,
                headers={"content-type": "text/plain"},
            )
            assert r.status_code == 200, r.text

    def post_events(self, events: list[dict[str, Any]]) -> None:
        for i in range(0, len(events), 1000):
            body = b"".join(orjson.dumps(e) + b"\n" for e in events[i : i + 1000])
            r = self.http.post(
                f"{self.collector}/v1/logs",
                content=body,
                headers={"content-type": "application/x-ndjson"},
            )
            assert r.status_code == 200, r.text

    def query(self, **body: Any) -> list[dict[str, Any]]:
        body.setdefault("interval", "2015-01-01T00:00:00Z/2030-01-01T00:00:00Z")
        body.setdefault("granularity", "all")
        r = self.http.post(f"{self.serve}/api/v1/query", json=body)
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()["rows"]
        return rows

    def total_events(self) -> int:
        return int(
            sum(r["events"] or 0 for r in self.query(queryType="timeseries", metrics=["events"]))
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every record of logs.deadletter, read by a fresh consumer group."""
        out: list[dict[str, Any]] = []
        with open_broker(f"local://{self.data_dir / 'log'}") as broker:
            consumer = broker.consumer(f"test-{time.monotonic_ns()}", ["logs.deadletter"])
            try:
                while True:
                    records = consumer.poll(max_records=1000, timeout=0.5)
                    if not records:
                        return out
                    out.extend(orjson.loads(r.value) for r in records)
            finally:
                consumer.close()


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path)
    try:
        for name in ("collector", "topology", "serve"):
            p.start(name)
        yield p
    finally:
        p.stop()
