"""Fixtures for the collector tests: a real uvicorn server in a thread, and a sink whose
availability a test can switch (a real sink writing JSON lines, not a mock)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from squall.ingest.agent import Agent
from squall.ingest.channels import Channel
from squall.ingest.event import Event
from squall.ingest.exceptions import SinkError
from squall.ingest.sinks import FileSink


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


class GateSink(FileSink):
    """A file sink that refuses batches while its gate is closed (a broker outage)."""

    name = "gate"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.gate.set()
        self.refused = 0

    def process(self, events: list[Event]) -> None:
        if not self.gate.is_set():
            self.refused += 1
            raise SinkError("test outage: the gate is closed")
        super().process(events)

    def delivered(self) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]  # the sink may be writing the last line
        return [orjson.loads(line) for line in complete.splitlines()]


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        wait_for(lambda: self.server.started, what="uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


@pytest.fixture
def gate_sink(tmp_path: Path) -> GateSink:
    return GateSink(tmp_path / "delivered.jsonl")


@pytest.fixture
def serve(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[Agent], httpx.Client]]:
    """``serve(agent)`` starts a live server for the agent and returns a client for it;
    at teardown the server shuts down, and the shutdown must log no error."""
    stack: list[tuple[LiveServer, httpx.Client]] = []

    def start(agent: Agent) -> httpx.Client:
        server = LiveServer(agent.app).__enter__()
        client = httpx.Client(base_url=server.url, timeout=30)
        stack.append((server, client))
        return client

    yield start
    for server, client in reversed(stack):
        client.close()
        server.__exit__()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


def channel_state(channel: Channel) -> tuple[int, int]:
    s = channel.stats()
    return (s.events, s.bytes)
