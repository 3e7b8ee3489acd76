"""The local stack: real Kafka, Druid and ZooKeeper run from Maven Central jars.

``maven`` resolves a service's classpath from the pom the project ships
(``poms/<service>/pom.xml``) into a cached directory; ``process`` starts, finds,
health-waits and stops one JVM with a pidfile and a log file. Each service has its own
module built on those two, registered in ``SERVICES`` (``squall stack ACTION SERVICE``
imports it only when asked), with three functions that ``deploy.cli`` calls:

    up(settings: Settings)        start unless running; idempotent
    down(settings: Settings)      stop if running; idempotent
    status(settings: Settings)    what runs

Each returns what to print: a list of ``ServiceState`` (one per process; Druid with its
ZooKeeper has several) or of plain lines, or one object whose ``str`` is the report.
``paths(settings)`` says where the service keeps its state and jars. Errors are
``deploy.exceptions.StackError`` subclasses.

Where things live (all configurable, see ``paths``): ``SQUALL_STACK_DIR`` (default
``<SQUALL_DATA_DIR>/stack``) holds each service's data, logs and pidfiles;
``SQUALL_STACK_JARS`` (default ``<stack dir>/jars``) caches the resolved jars.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from squall.settings import Settings

__all__ = ["POMS", "SERVICES", "ServiceState", "StackPaths", "paths"]

POMS = Path(__file__).parent / "poms"

# service name -> module with up/down/status (imported lazily by deploy.cli)
SERVICES = {"kafka": "squall.deploy.stack.kafka", "druid": "squall.deploy.stack.druid"}


@dataclass(frozen=True)
class ServiceState:
    """One process of the stack as ``squall stack status`` reports it."""

    name: str
    running: bool
    pid: int | None = None
    address: str = ""  # where clients connect, e.g. 127.0.0.1:9092
    healthy: bool = False  # answers its health check (Kafka: serves metadata)
    detail: str = ""  # e.g. "started in 6.1 s", "already running", the log file

    def describe(self) -> str:
        if not self.running:
            state = "not running"
        else:
            health = "healthy" if self.healthy else "NOT healthy"
            state = f"running (pid {self.pid}) on {self.address}, {health}"
        return f"{self.name}: {state}" + (f"; {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class StackPaths:
    """``root``: state per service (``root/<service>``); ``jars``: jar cache per service
    (``jars/<service>``); ``maven_repo``: Maven's local repository, or None for ~/.m2."""

    root: Path
    jars: Path
    maven_repo: Path | None

    def service_dir(self, service: str) -> Path:
        return self.root / service

    def lib_dir(self, service: str) -> Path:
        return self.jars / service


def paths(settings: Settings, environ: Mapping[str, str] | None = None) -> StackPaths:
    """Where the stack keeps its state, from ``SQUALL_STACK_DIR``, ``SQUALL_STACK_JARS``
    and ``SQUALL_MAVEN_REPO`` (all optional)."""
    env = os.environ if environ is None else environ
    root = Path(env.get("SQUALL_STACK_DIR") or settings.data_dir / "stack").resolve()
    jars = Path(env.get("SQUALL_STACK_JARS") or root / "jars").resolve()
    repo = env.get("SQUALL_MAVEN_REPO")
    return StackPaths(root, jars, Path(repo).resolve() if repo else None)
