"""Fixtures for the deploy tests: the local stack needs Java and Maven; the compose
stack a Docker engine (``make test`` starts one)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from squall.deploy.compose import engine, project
from squall.deploy.exceptions import JavaNotFound
from squall.deploy.stack import process


@pytest.fixture(scope="session")
def java_and_maven() -> None:
    """Fails (CI=true) or skips when Java 17+ or Maven is missing."""
    try:
        process.find_java()
        missing = None if shutil.which("mvn") else "no mvn on PATH"
    except JavaNotFound as exc:
        missing = str(exc)
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: the local stack cannot run here: {missing}")
        pytest.skip(f"the local stack cannot run here: {missing}")


# -- the compose stack on a real Docker engine (test_compose*.py) -------------------------

# another name lets two checkouts test on one engine at once (with SQUALL_IMAGE_PREFIX)
COMPOSE_PROJECT = os.environ.get("SQUALL_TEST_COMPOSE_PROJECT", "squall-test")
ALL_TIME = "2015-01-01T00:00:00Z/2030-01-01T00:00:00Z"
COMPOSE_DEADLINE = 240.0


def _need_engine(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {what}")
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ComposeStack:
    """The compose project ``squall-test`` on free host ports, seen from the host."""

    docker: Any
    collector: str
    api: str
    console: str  # Druid's router
    http: httpx.Client
    posted: int = 0  # events answered 200 so far, by every test on this stack

    def post(self, events: list[dict[str, Any]]) -> None:
        """POST NDJSON batches to the published collector port; each must get 200."""
        for i in range(0, len(events), 1000):
            body = b"".join(orjson.dumps(e) + b"\n" for e in events[i : i + 1000])
            r = self.http.post(
                f"{self.collector}/v1/logs",
                content=body,
                headers={"content-type": "application/x-ndjson"},
            )
            assert r.status_code == 200, r.text
            self.posted += len(events[i : i + 1000])

    def query(self, **body: Any) -> list[dict[str, Any]]:
        body.setdefault("interval", ALL_TIME)
        r = self.http.post(f"{self.api}/api/v1/query", json=body)
        if r.status_code != 200:  # the datasource appears with its first rows
            return []
        rows: list[dict[str, Any]] = r.json()["rows"]
        return rows

    def pipeline(self) -> dict[str, Any]:
        """The pipeline page's data (``GET /api/v1/pipeline``) from the published API port."""
        r = self.http.get(f"{self.api}/api/v1/pipeline")
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer

    def total(self) -> int:
        rows = self.query(queryType="timeseries", metrics=["events"])
        return int(rows[0]["events"] or 0) if rows else 0

    def kill(self, service: str) -> None:
        """``docker kill -s KILL`` of the service's container."""
        (container,) = self.docker.compose.ps([service])
        self.docker.kill(container, signal="KILL")

    def up_again(self) -> None:
        """``docker compose up -d`` of the stack, waiting until all is healthy again."""
        project.up(self.docker)

    def wait_for(self, condition: Callable[[], bool], what: Callable[[], str]) -> None:
        deadline = time.monotonic() + COMPOSE_DEADLINE
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what()}"
            time.sleep(0.5)  # Druid publishes what it ingested on its own schedule

    def leftovers(self) -> list[str]:
        """Containers, networks and volumes of the project still there."""
        label = [("label", f"com.docker.compose.project={COMPOSE_PROJECT}")]
        found = [f"container {c.name}" for c in self.docker.container.list(all=True, filters=label)]
        found += [f"network {n.name}" for n in self.docker.network.list(filters=label)]
        found += [f"volume {v.name}" for v in self.docker.volume.list(filters=label)]
        return found


@contextlib.contextmanager
def compose_stack(env: dict[str, str]) -> Iterator[ComposeStack]:
    """Build, start and (after) ``down -v`` the project with ``env`` set; skips, or
    fails under CI=true, without an engine."""
    if not engine.engine_running():
        _need_engine("no Docker engine answers `docker info` (as root: make engine-up)")
    ports = {name: str(_free_port()) for name in project.PORTS}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {**ports, **env}.items():
            mp.setenv(name, value)
        docker = project.client(project_name=COMPOSE_PROJECT)
        docker.compose.down(volumes=True, remove_orphans=True, quiet=True)  # a previous run's
        project.build(docker)
        stack = ComposeStack(
            docker,
            f"http://127.0.0.1:{ports['SQUALL_COLLECTOR_PORT']}",
            f"http://127.0.0.1:{ports['SQUALL_SERVE_PORT']}",
            f"http://127.0.0.1:{ports['DRUID_CONSOLE_PORT']}",
            httpx.Client(timeout=30.0),
        )
        try:
            project.up(docker)
            yield stack
        finally:
            stack.http.close()
            docker.compose.down(volumes=True, remove_orphans=True, quiet=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    """The default layout: one Kafka, one of each Druid service, one topology; no
    POSTGRES_PASSWORD, as a plain `docker compose up` from a fresh clone (the postgres
    service generates one into its volume)."""
    with compose_stack({"COMPOSE_PROFILES": "", "POSTGRES_PASSWORD": ""}) as s:
        yield s


@pytest.fixture(scope="module")
def cluster_stack() -> Iterator[ComposeStack]:
    """The cluster profile, clients bootstrapping from all three Kafka brokers; the
    metadata store's password given, as deploy/.env gives it."""
    env = {
        "COMPOSE_PROFILES": "cluster",
        "SQUALL_KAFKA": "kafka:9092,kafka-2:9092,kafka-3:9092",
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
    }
    with compose_stack(env) as s:
        yield s
