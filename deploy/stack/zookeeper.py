"""ZooKeeper for Druid's service discovery: one standalone server on 127.0.0.1:2181.

It runs from the ZooKeeper jars already on Druid's classpath (``poms/druid``), so the
stack resolves one set of jars for both. The AdminServer is off (it would take port
8080); health is the ``ruok`` four-letter word answered ``imok``.
"""

from __future__ import annotations

import socket
from pathlib import Path

from squall.deploy.stack import POMS, ServiceState, maven, paths, process
from squall.deploy.stack.druid_conf import LOG4J2_XML
from squall.settings import Settings

__all__ = [
    "ADDRESS",
    "HOST",
    "PORT",
    "down",
    "healthy",
    "lib_dir",
    "service",
    "status",
    "up",
    "zoo_cfg",
]

HOST = "127.0.0.1"
PORT = 2181
ADDRESS = f"{HOST}:{PORT}"
HEAP = "128m"
START_TIMEOUT = 60.0


def lib_dir(settings: Settings) -> Path:
    """Druid's jar directory (resolved on first use), which holds ZooKeeper too."""
    where = paths(settings)
    return maven.resolve(
        POMS / "druid" / "pom.xml", where.lib_dir("druid"), maven_repo=where.maven_repo
    )


def service(settings: Settings, lib: Path) -> process.JvmService:
    """The ZooKeeper JVM (its configuration is written by ``up``)."""
    run_dir = paths(settings).service_dir("zookeeper")
    return process.JvmService(
        name="zookeeper",
        main_class="org.apache.zookeeper.server.ZooKeeperServerMain",
        classpath=[f"{lib}/*"],
        run_dir=run_dir,
        args=[str(run_dir / "zoo.cfg")],
        heap=HEAP,
        jvm_options=[
            f"-Dlog4j2.configurationFile={run_dir / 'log4j2.xml'}",
            "-Dzookeeper.admin.enableServer=false",
        ],
        ports=[PORT],
        host=HOST,
    )


def zoo_cfg(data: Path, host: str = HOST, port: int = PORT) -> str:
    """A standalone server's ``zoo.cfg`` (the local stack's and the compose stack's)."""
    return (
        f"dataDir={data}\n"
        f"clientPort={port}\n"
        f"clientPortAddress={host}\n"
        "tickTime=2000\n"
        "maxClientCnxns=0\n"
        "admin.enableServer=false\n"
        "4lw.commands.whitelist=ruok,srvr\n"
    )


def _write_config(run_dir: Path) -> None:
    data = run_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    (run_dir / "zoo.cfg").write_text(zoo_cfg(data))
    (run_dir / "log4j2.xml").write_text(LOG4J2_XML)


def healthy(host: str = HOST, port: int = PORT, timeout: float = 2.0) -> bool:
    """True when ZooKeeper answers ``ruok`` with ``imok``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"ruok")
            return sock.recv(16) == b"imok"
    except OSError:
        return False


def up(settings: Settings, lib: Path | None = None) -> list[ServiceState]:
    """Start ZooKeeper unless it runs and wait for ``imok``."""
    svc = service(settings, lib or lib_dir(settings))
    _write_config(svc.run_dir)
    pid, started = process.start(svc)
    waited = process.wait_healthy(svc, pid, healthy, START_TIMEOUT, "answering ruok")
    detail = f"started in {waited:.1f} s" if started else "already running"
    return [ServiceState("zookeeper", True, pid, ADDRESS, True, f"{detail}; log {svc.log_file}")]


def down(settings: Settings) -> list[ServiceState]:
    """Stop ZooKeeper (after Druid: its services hang on shutdown without it)."""
    stopped = process.stop(service(settings, paths(settings).lib_dir("druid")))
    detail = "stopped" if stopped else "was not running"
    return [ServiceState("zookeeper", False, None, ADDRESS, False, detail)]


def status(settings: Settings) -> list[ServiceState]:
    svc = service(settings, paths(settings).lib_dir("druid"))
    pid = process.running_pid(svc)
    if pid is None:
        return [ServiceState("zookeeper", False, None, ADDRESS)]
    return [ServiceState("zookeeper", True, pid, ADDRESS, healthy(), f"log {svc.log_file}")]
