"""The local stack: real Kafka, Druid and ZooKeeper run from Maven Central jars.

``maven`` resolves a service's classpath from the pom the project ships
(``poms/<service>/pom.xml``) into a cached directory; ``process`` starts, finds,
health-waits and stops one JVM with a pidfile and a log file. Each service has its own
module (``kafka``, ``druid``, ``zookeeper``) built on those two, with ``up``, ``down``
and ``status`` functions that ``deploy.cli`` dispatches to.

Where things live (all configurable, see ``paths``): ``SQUALL_STACK_DIR`` (default
``<SQUALL_DATA_DIR>/stack``) holds each service's data, logs and pidfiles;
``SQUALL_STACK_JARS`` (default ``<stack dir>/jars``) caches the resolved jars.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from squall.settings import Settings

__all__ = ["POMS", "StackPaths", "paths"]

POMS = Path(__file__).parent / "poms"


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


def paths(settings: Settings, environ: dict[str, str] | None = None) -> StackPaths:
    """Where the stack keeps its state, from ``SQUALL_STACK_DIR``, ``SQUALL_STACK_JARS``
    and ``SQUALL_MAVEN_REPO`` (all optional)."""
    env = os.environ if environ is None else environ
    root = Path(env.get("SQUALL_STACK_DIR") or settings.data_dir / "stack").resolve()
    jars = Path(env.get("SQUALL_STACK_JARS") or root / "jars").resolve()
    repo = env.get("SQUALL_MAVEN_REPO")
    return StackPaths(root, jars, Path(repo).resolve() if repo else None)
