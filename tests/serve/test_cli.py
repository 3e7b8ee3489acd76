"""``squall serve`` as a user runs it: a process that loads the local log's
``logs.metrics`` and answers on its port, stopped cleanly by Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from squall.broker.local import LocalBroker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_squall_serve_loads_and_answers(
    gt: Any, tmp_path: Path, few_events: list[Any], few_rows: list[dict[str, Any]]
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SQUALL_SERVE_PORT": str(port),
        "SQUALL_QUERY_TOKENS": "t0ken",
        "SQUALL_DATA_DIR": str(tmp_path / "ignored"),  # the flag wins
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "squall", "--data-dir", str(tmp_path / "state"), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with LocalBroker(tmp_path / "state" / "log") as broker:
            broker.create_topic("logs.metrics", 3)
            producer = broker.producer()
            for row in few_rows:
                producer.send("logs.metrics", orjson.dumps(row), key=row["route"].encode())
            producer.close()
        body = {
            "queryType": "groupBy",
            "interval": "2015-05-17T22:00:00Z/2015-05-18T02:00:00Z",
            "granularity": "hour",
            "dimensions": ["service"],
            "metrics": ["events", "bytes", "latency_p99", "unique_users"],
        }
        auth = {"Authorization": "Bearer t0ken"}
        deadline = time.monotonic() + 60
        rows: list[dict[str, Any]] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            while sum(r["events"] for r in rows) < len(few_events):
                assert time.monotonic() < deadline, f"not all events arrived: {rows}"
                assert server.poll() is None, "squall serve exited"
                time.sleep(0.1)  # polling the API for a condition
                try:
                    response = client.post("/api/v1/query", json=body, headers=auth)
                except httpx.TransportError:
                    continue  # not listening yet
                assert response.status_code == 200, response.text
                rows = response.json()["rows"]
            assert client.post("/api/v1/query", json=body).status_code == 401
        start, end = (gt.parse_iso(t) for t in body["interval"].split("/"))  # type: ignore[union-attr]
        want = gt.truth(few_events, start, end, "hour", ("service",))
        assert [(r["timestamp"], r["service"]) for r in rows] == sorted(want)
        gt.check_rows(rows, want, ("service",))
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output.decode()
    assert (tmp_path / "state" / "metrics.duckdb").exists()
    assert not (tmp_path / "ignored").exists()
