"""Druid's configuration for the local stack, generated with absolute paths.

Druid reads ``<conf>/_common/common.runtime.properties`` and
``<conf>/<service>/runtime.properties`` from its classpath; each JVM has its own working
directory, so every path written here is absolute. The layout follows Druid's
single-server "micro-quickstart", cut down for a 2-core / 24 GiB machine shared with
Kafka and the pipeline:

* the coordinator doubles as the overlord and hosts the Derby metadata store;
* the ``indexer`` runs ingestion tasks as threads (no forked peons), four slots: a
  publishing task and its successor overlap, and each datasource (tests make their own)
  has its own task; with two, a new supervisor's task waited ~100 s for a slot;
* one processing thread, two merge buffers of 100 MiB per data service (a groupBy of
  sketches needs ~30 KiB per group per quantiles sketch) and groupBy spilling to disk
  beyond that; caches off;
* extensions (Kafka indexing, DataSketches) are plain jars on the classpath:
  ``loadList=[]`` loads none from an extensions directory, and Druid's default
  ``searchCurrentClassloader=true`` finds their modules on the classpath;
* every service binds 127.0.0.1 only (``bindOnHost``), metrics emitters are off.

``postgresql_metadata`` gives the overrides that move the metadata from Derby to a
PostgreSQL server through Squall's own extension (deploy/druid/postgresql-metadata), as
the compose stack runs it; the local stack stays on Derby.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "COORDINATOR",
    "DERBY_PORT",
    "JAVA_OPTIONS",
    "LOG4J2_XML",
    "POSTGRESQL_EXTENSION",
    "POSTGRESQL_PORT",
    "SERVICES",
    "DruidService",
    "postgresql_metadata",
    "write_conf",
]

HOST = "127.0.0.1"
DERBY_PORT = 1527
POSTGRESQL_PORT = 5432
POSTGRESQL_EXTENSION = "squall-postgresql-metadata"
"""The extension's directory name under ``druid.extensions.directory``."""


@dataclass(frozen=True)
class DruidService:
    """One Druid process: its ``server`` name, HTTP port, heap and direct memory."""

    name: str
    port: int
    heap: str
    direct: str
    properties: dict[str, str] = field(default_factory=dict)

    def runtime_properties(self, var: Path) -> dict[str, str]:
        props = {"druid.service": f"druid/{self.name}", "druid.plaintextPort": str(self.port)}
        for key, value in self.properties.items():
            props[key] = value.replace("{var}", str(var))
        return props


_PROCESSING = {
    "druid.processing.buffer.sizeBytes": "100MiB",
    "druid.processing.numMergeBuffers": "2",
    "druid.processing.numThreads": "1",
    "druid.server.http.numThreads": "8",
}

COORDINATOR = DruidService(
    "coordinator",
    8081,
    heap="384m",
    direct="64m",
    properties={
        "druid.coordinator.asOverlord.enabled": "true",
        "druid.coordinator.asOverlord.overlordService": "druid/overlord",
        "druid.coordinator.startDelay": "PT5S",
        "druid.coordinator.period": "PT5S",
        "druid.manager.segments.pollDuration": "PT5S",
        "druid.indexer.queue.startDelay": "PT1S",
        "druid.indexer.storage.type": "metadata",
        "druid.indexer.runner.type": "httpRemote",
        "druid.server.http.numThreads": "8",
    },
)

SERVICES: tuple[DruidService, ...] = (
    COORDINATOR,
    DruidService(
        "broker",
        8082,
        heap="512m",
        direct="640m",
        properties={
            **_PROCESSING,
            "druid.broker.http.numConnections": "5",
            "druid.broker.http.maxQueuedBytes": "5MiB",
            "druid.broker.cache.useCache": "false",
            "druid.broker.cache.populateCache": "false",
        },
    ),
    DruidService(
        "historical",
        8083,
        heap="512m",
        direct="640m",
        properties={
            **_PROCESSING,
            "druid.segmentCache.locations": '[{"path":"{var}/segment-cache","maxSize":"4GiB"}]',
            "druid.historical.cache.useCache": "false",
            "druid.historical.cache.populateCache": "false",
        },
    ),
    DruidService(
        "indexer",
        8091,
        heap="1g",
        direct="640m",
        properties={
            **_PROCESSING,
            "druid.worker.capacity": "4",
            "druid.worker.baseTaskDirs": '["{var}/task"]',
            "druid.indexer.task.baseTaskDir": "{var}/task",
            "druid.indexer.task.restoreTasksOnRestart": "true",
            "druid.indexer.task.gracefulShutdownTimeout": "PT10S",
            "druid.realtime.cache.useCache": "false",
            "druid.realtime.cache.populateCache": "false",
        },
    ),
    DruidService(
        "router",
        8888,
        heap="256m",
        direct="64m",
        properties={
            "druid.router.http.numConnections": "10",
            "druid.router.http.readTimeout": "PT5M",
            "druid.router.http.numMaxThreads": "20",
            "druid.server.http.numThreads": "10",
            "druid.router.managementProxy.enabled": "true",
        },
    ),
)
"""Start order: the coordinator first (it hosts Derby and the overlord), then the rest."""


def _common(var: Path, zookeeper: str) -> dict[str, str]:
    return {
        "druid.host": HOST,
        "druid.bindOnHost": "true",
        "druid.extensions.loadList": "[]",
        "druid.zk.service.host": zookeeper,
        "druid.zk.paths.base": "/druid",
        "druid.metadata.storage.type": "derby",
        "druid.metadata.storage.connector.connectURI": (
            f"jdbc:derby://{HOST}:{DERBY_PORT}/{var}/metadata.db;create=true"
        ),
        "druid.metadata.storage.connector.host": HOST,
        "druid.metadata.storage.connector.port": str(DERBY_PORT),
        "druid.storage.type": "local",
        "druid.storage.storageDirectory": f"{var}/segments",
        "druid.indexer.logs.type": "file",
        "druid.indexer.logs.directory": f"{var}/indexing-logs",
        "druid.selectors.indexing.serviceName": "druid/overlord",
        "druid.selectors.coordinator.serviceName": "druid/coordinator",
        "druid.monitoring.monitors": "[]",
        "druid.emitter": "noop",
        "druid.indexing.doubleStorage": "double",
        "druid.sql.enable": "true",
        "druid.lookup.enableLookupSyncOnStartup": "false",
        "druid.processing.tmpDir": f"{var}/tmp",
        "druid.query.groupBy.maxOnDiskStorage": "2GiB",
        "druid.startup.logging.logProperties": "false",
    }


LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<Configuration status="WARN">
  <Appenders>
    <Console name="Console" target="SYSTEM_OUT">
      <PatternLayout pattern="%d{ISO8601} %p [%t] %c - %m%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="Console"/></Root>
    <Logger name="org.apache.druid.jetty.RequestLog" additivity="false" level="warn">
      <AppenderRef ref="Console"/>
    </Logger>
    <Logger name="com.sun.jersey.guice" level="warn"/>
    <Logger name="org.apache.kafka" level="warn"/>
  </Loggers>
</Configuration>
"""
"""Console logging (the process module sends stdout to the service's log file)."""

JAVA_OPTIONS: tuple[str, ...] = (
    "-server",
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Duser.timezone=UTC",
    "-Dfile.encoding=UTF-8",
    "-Djava.util.logging.manager=org.apache.logging.log4j.jul.LogManager",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
)
"""Druid on Java 17 (from Druid's docs/operations/java.md), UTC, serial GC: small heaps
on 2 shared cores gain nothing from G1's concurrent threads."""


def postgresql_metadata(
    host: str,
    extensions: Path,
    *,
    port: int = POSTGRESQL_PORT,
    database: str = "druid",
    user: str = "druid",
    password_variable: str = "POSTGRES_PASSWORD",
) -> dict[str, str]:
    """``write_conf`` overrides: metadata in PostgreSQL at ``host:port``, through the
    extension in ``extensions/POSTGRESQL_EXTENSION``.

    The password is never written: Druid reads it from the environment variable
    ``password_variable`` when it connects (an ``environment`` password provider), which
    the service's start script sets. Derby's host and port are removed."""
    provider = json.dumps({"type": "environment", "variable": password_variable})
    return {
        "druid.extensions.directory": str(extensions),
        "druid.extensions.loadList": json.dumps([POSTGRESQL_EXTENSION]),
        "druid.metadata.storage.type": "postgresql",
        "druid.metadata.storage.connector.connectURI": f"jdbc:postgresql://{host}:{port}/{database}",
        "druid.metadata.storage.connector.user": user,
        "druid.metadata.storage.connector.password": provider,
        "druid.metadata.storage.connector.host": "",
        "druid.metadata.storage.connector.port": "",
    }


def _properties(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def write_conf(
    conf: Path,
    var: Path,
    zookeeper: str,
    overrides: Mapping[str, str] | None = None,
    *,
    make_dirs: bool = True,
) -> None:
    """Write every service's configuration under ``conf`` (``var`` holds the data).

    ``overrides`` replace common properties; an empty value removes one (the compose
    stack removes ``druid.host``, which each container sets to its own address)."""
    common = conf / "_common"
    common.mkdir(parents=True, exist_ok=True)
    values = {**_common(var, zookeeper), **(overrides or {})}
    values = {key: value for key, value in values.items() if value}
    (common / "common.runtime.properties").write_text(_properties(values))
    (common / "log4j2.xml").write_text(LOG4J2_XML)
    for service in SERVICES:
        directory = conf / service.name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "runtime.properties").write_text(_properties(service.runtime_properties(var)))
    for sub in ("tmp", "task", "segments", "segment-cache", "indexing-logs") if make_dirs else ():
        (var / sub).mkdir(parents=True, exist_ok=True)
