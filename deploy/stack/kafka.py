"""The local Kafka: one KRaft broker+controller JVM run from Maven Central jars.

``up`` does, each step skipped when already done:

1. find Java (17+) and check that 127.0.0.1:9092 and :9093 are free;
2. resolve the jars of ``poms/kafka/pom.xml`` into the jar cache (Maven, once);
3. write ``server.properties`` and ``log4j2.xml`` into ``<stack dir>/kafka``;
4. format the KRaft storage (``kafka.tools.StorageTool format --standalone -g``) with a
   cluster id kept in ``cluster.id``, once;
5. start ``kafka.Kafka`` detached (pidfile ``kafka.pid``, stdout in ``kafka.log``,
   the broker's own log in ``logs/server.log``) and wait until it serves metadata;
6. create Squall's topics (``squall.broker.ensure_topics``).

``down`` sends SIGTERM (a controlled shutdown), waits, then SIGKILL. Data survives
``down``; delete ``<stack dir>/kafka`` to start empty.

Verified on the project's machines (Java 17, Maven 3.8): Kafka 4.4.0's jars are Java 17
class files; its POM brings slf4j-api 1.7.36 and log4j-core but no binding, hence
``log4j-slf4j-impl`` in our pom (without it the broker logs nothing). 45 jars, 43 MB.
``StorageTool format --standalone`` with ``controller.quorum.bootstrap.servers`` works
and ``-g`` makes it idempotent. Times: jar resolution 10-13 s from an empty Maven
repository; format + start + topics 3-15 s (the machine's load decides); a start
with cached jars and formatted storage 3-7 s; ``down`` about 1 s.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from squall.deploy.stack import POMS, ServiceState, StackPaths, maven, paths, process
from squall.settings import Settings

__all__ = ["JVM_OPTIONS", "KafkaStack", "down", "server_properties", "status", "up"]

log = logging.getLogger(__name__)

POM = POMS / "kafka" / "pom.xml"
JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


@dataclass(frozen=True)
class KafkaStack:
    """Where one local Kafka lives and listens. Defaults are design.md's."""

    paths: StackPaths
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    start_timeout: float = 120.0

    @property
    def dir(self) -> Path:
        return self.paths.service_dir("kafka")

    @property
    def lib(self) -> Path:
        return self.paths.lib_dir("kafka")

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def server_log(self) -> Path:
        return self.dir / "logs" / "server.log"

    def service(self, java: str | None = None) -> process.JvmService:
        return process.JvmService(
            name="kafka",
            main_class="kafka.Kafka",
            classpath=[self.lib / "*"],
            run_dir=self.dir,
            args=[str(self.dir / "server.properties")],
            heap=self.heap,
            jvm_options=[f"-Dlog4j2.configurationFile={self.dir / 'log4j2.xml'}", *JVM_OPTIONS],
            java=java,
            ports=[self.port, self.controller_port],
            host=self.host,
        )

    def server_properties(self) -> str:
        h, p, c = self.host, self.port, self.controller_port
        return server_properties(
            listeners=f"PLAINTEXT://{h}:{p},CONTROLLER://{h}:{c}",
            advertised=f"PLAINTEXT://{h}:{p},CONTROLLER://{h}:{c}",
            quorum=f"{h}:{c}",
            log_dir=self.dir / "data",
            written_by="`squall stack up kafka`",
        )

    def log4j2_xml(self) -> str:
        logs = self.dir / "logs"
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- written by `squall stack up kafka`; edits are overwritten -->
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="server" fileName="{logs}/server.log" filePattern="{logs}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="20MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
  </Loggers>
</Configuration>
"""


def server_properties(
    *,
    listeners: str,
    advertised: str,
    quorum: str,
    log_dir: Path | str,
    node_id: int = 1,
    voters: str = "",
    replication: int = 1,
    min_insync: int = 1,
    written_by: str,
) -> str:
    """One KRaft broker+controller's ``server.properties``: the local stack's single node
    and the compose stack's (``quorum`` = its own controller, a dynamic quorum formatted
    ``--standalone``), or a node of the compose stack's cluster profile (``voters`` =
    ``id@host:port,...`` of every controller: a static quorum; ``replication`` 3 and
    ``min_insync`` 2)."""
    return "\n".join(
        [
            f"# written by {written_by}; edits are overwritten",
            "process.roles=broker,controller",
            f"node.id={node_id}",
            (
                f"controller.quorum.voters={voters}"
                if voters
                else f"controller.quorum.bootstrap.servers={quorum}"
            ),
            f"listeners={listeners}",
            f"advertised.listeners={advertised}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={log_dir}",
            "num.partitions=1",
            "auto.create.topics.enable=false",  # an unknown topic is an error, as locally
            f"default.replication.factor={replication}",
            f"min.insync.replicas={min_insync}",
            f"offsets.topic.replication.factor={replication}",
            "offsets.topic.num.partitions=10",
            f"transaction.state.log.replication.factor={replication}",
            f"transaction.state.log.min.isr={min_insync}",
            "transaction.state.log.num.partitions=10",
            f"share.coordinator.state.topic.replication.factor={replication}",
            f"share.coordinator.state.topic.min.isr={min_insync}",
            "group.initial.rebalance.delay.ms=0",
            "log.retention.hours=168",
            "",
        ]
    )


def _cluster_id(directory: Path) -> str:
    """The KRaft cluster id: 16 random bytes, URL-safe base64 without padding; kept."""
    path = directory / "cluster.id"
    if path.is_file():
        return path.read_text().strip()
    cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    path.write_text(cluster_id + "\n")
    return cluster_id


def _format_storage(stack: KafkaStack, java: str) -> None:
    if (stack.dir / "data" / "meta.properties").is_file():
        return
    process.run_java_tool(
        java,
        [stack.lib / "*"],
        "kafka.tools.StorageTool",
        [
            "format",
            # one argument each: a random id may begin with "-", which alone would read
            # as an option (1 run in 64 failed with "expected one argument")
            f"--cluster-id={_cluster_id(stack.dir)}",
            f"--config={stack.dir / 'server.properties'}",
            "--standalone",
            "-g",  # an already formatted directory is fine
        ],
        what="formatting Kafka's KRaft storage",
        jvm_options=[f"-Dlog4j2.configurationFile={stack.dir / 'log4j2.xml'}"],
    )


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def serves_metadata(bootstrap: str, timeout_ms: int = 2000) -> bool:
    """True when the broker at ``bootstrap`` answers a metadata request and is unfenced."""
    host, _, port = bootstrap.rpartition(":")
    if not _accepts(host, int(port)):
        return False
    from squall.broker.exceptions import BrokerError
    from squall.broker.kafka.errors import construct

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError
    try:  # construct(): a failed client does not leave its I/O thread behind
        admin = construct(
            KafkaAdminClient,
            "check the broker",
            bootstrap,
            bootstrap_servers=bootstrap,
            client_id="squall-stack",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
        )
    except BrokerError:
        return False
    try:
        brokers = admin.describe_cluster().get("brokers", [])
        return any(not b.get("is_fenced", False) for b in brokers)
    except KafkaError:
        return False
    finally:
        admin.close()


def _ensure_topics(stack: KafkaStack, settings: Settings) -> None:
    from squall.broker import ensure_topics
    from squall.broker.kafka import KafkaBroker

    with KafkaBroker(stack.bootstrap) as broker:
        ensure_topics(broker, settings)


def up(settings: Settings, stack: KafkaStack | None = None) -> list[ServiceState]:
    """Start the local Kafka unless it runs, and create Squall's topics (idempotent)."""
    stack = stack or KafkaStack(paths(settings))
    service = stack.service()
    pid = process.running_pid(service)
    if pid is not None:
        healthy = serves_metadata(stack.bootstrap)
        if healthy:
            _ensure_topics(stack, settings)
        detail = "already running" + ("" if healthy else f"; see {stack.server_log}")
        return [ServiceState("kafka", True, pid, stack.bootstrap, healthy, detail)]
    java = process.find_java(min_version=17)
    process.check_ports_free(stack.host, service.ports, "Kafka")
    began = time.monotonic()
    cached = maven.is_resolved(POM, stack.lib)
    if not cached:
        log.info("resolving Kafka's jars from Maven Central into %s (once)", stack.lib)
    maven.resolve(POM, stack.lib, maven_repo=stack.paths.maven_repo)
    resolved_s = time.monotonic() - began
    stack.dir.mkdir(parents=True, exist_ok=True)
    (stack.dir / "server.properties").write_text(stack.server_properties())
    (stack.dir / "log4j2.xml").write_text(stack.log4j2_xml())
    _format_storage(stack, java)
    service = stack.service(java)
    pid, _ = process.start(service)
    process.wait_healthy(
        service,
        pid,
        lambda: serves_metadata(stack.bootstrap),
        stack.start_timeout,
        what="serving metadata",
    )
    _ensure_topics(stack, settings)
    total = time.monotonic() - began
    jars = "jars cached" if cached else f"jars resolved in {resolved_s:.1f} s"
    detail = f"started in {total:.1f} s ({jars}); log {stack.server_log}"
    return [ServiceState("kafka", True, pid, stack.bootstrap, True, detail)]


def down(settings: Settings, stack: KafkaStack | None = None) -> list[ServiceState]:
    """Stop the local Kafka if it runs (SIGTERM, then SIGKILL after 60 s)."""
    stack = stack or KafkaStack(paths(settings))
    stopped = process.stop(stack.service(), timeout=60)
    detail = "stopped" if stopped else "was not running"
    return [ServiceState("kafka", False, None, stack.bootstrap, False, detail)]


def status(settings: Settings, stack: KafkaStack | None = None) -> list[ServiceState]:
    stack = stack or KafkaStack(paths(settings))
    pid = process.running_pid(stack.service())
    if pid is None:
        held = _accepts(stack.host, stack.port)
        detail = f"but another process listens on {stack.bootstrap}" if held else ""
        return [ServiceState("kafka", False, None, stack.bootstrap, False, detail)]
    healthy = serves_metadata(stack.bootstrap)
    return [ServiceState("kafka", True, pid, stack.bootstrap, healthy, f"log {stack.server_log}")]
