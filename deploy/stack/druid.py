"""Apache Druid from Maven Central jars: ``squall stack up|down|status druid``.

``up`` resolves the jars of ``poms/druid`` (Druid, its Kafka indexing and DataSketches
extensions; ZooKeeper comes with them), writes the configuration (deploy.stack.druid_conf)
and starts, in order:

1. ZooKeeper (deploy.stack.zookeeper), waiting for ``imok``;
2. the coordinator, which is also the overlord and hosts the Derby metadata store,
   waiting for ``/status/health``;
3. broker, historical, indexer and router together, waiting for each one's health;
4. then submits the Kafka supervisor of datasource ``log_metrics`` (squall.druid_spec,
   generated from squall.schema), which reads ``logs.metrics`` from the Kafka named by
   ``SQUALL_BROKER`` (``kafka://HOST:PORT``; 127.0.0.1:9092 otherwise). Kafka need not
   be up yet: the supervisor retries until the topic exists.

Everything is idempotent: running services are left alone and the supervisor spec is
replaced by the same one. ``down`` stops the services in reverse order; data stays in
``<stack dir>/druid/var`` (delete it for a clean start).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from squall.deploy.exceptions import ServiceFailed, ServiceTimeout
from squall.deploy.stack import ServiceState, paths, process, zookeeper
from squall.deploy.stack.druid_conf import COORDINATOR, DERBY_PORT, HOST, JAVA_OPTIONS, SERVICES
from squall.deploy.stack.druid_conf import write_conf as _write_conf
from squall.druid_spec import events_supervisor_spec, retention_rules, supervisor_spec
from squall.settings import Settings

__all__ = [
    "ROUTER_URL",
    "down",
    "drop_datasource",
    "healthy",
    "is_up",
    "kafka_bootstrap",
    "services",
    "start_service",
    "status",
    "submit_events_supervisor",
    "submit_supervisor",
    "terminate_supervisor",
    "up",
]

log = logging.getLogger(__name__)

ROUTER_URL = f"http://{HOST}:8888"
OVERLORD_URL = f"http://{HOST}:{COORDINATOR.port}"
START_TIMEOUT = 240.0
"""Per service; a cold start on a loaded 2-core machine can take a minute or more."""
STOP_TIMEOUT = 60.0


def _dirs(settings: Settings) -> tuple[Path, Path, Path]:
    root = paths(settings).service_dir("druid")
    return root, root / "conf", root / "var"


def services(settings: Settings, lib: Path | None = None) -> list[process.JvmService]:
    """The Druid JVMs in start order (coordinator first)."""
    root, conf, var = _dirs(settings)
    lib = lib or paths(settings).lib_dir("druid")
    out = []
    for svc in SERVICES:
        ports = [svc.port, DERBY_PORT] if svc is COORDINATOR else [svc.port]
        out.append(
            process.JvmService(
                name=f"druid-{svc.name}",
                main_class="org.apache.druid.cli.Main",
                classpath=[conf / svc.name, conf / "_common", f"{lib}/*"],
                run_dir=root,
                args=["server", svc.name],
                heap=svc.heap,
                jvm_options=[
                    f"-XX:MaxDirectMemorySize={svc.direct}",
                    *JAVA_OPTIONS,
                    f"-Djava.io.tmpdir={var / 'tmp'}",
                    f"-Dlog4j2.configurationFile={conf / '_common' / 'log4j2.xml'}",
                    f"-Dderby.stream.error.file={var / 'derby.log'}",
                    f"-Ddruid.node.name={svc.name}",
                ],
                ports=ports,
                host=HOST,
            )
        )
    return out


def _port(svc: process.JvmService) -> int:
    return svc.ports[0]


def healthy(port: int, timeout: float = 2.0) -> bool:
    """True when the Druid service on ``port`` answers ``/status/health`` with true."""
    try:
        response = httpx.get(f"http://{HOST}:{port}/status/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.text.strip() == "true"


def _health_check(port: int) -> Callable[[], bool]:
    return lambda: healthy(port)


def kafka_bootstrap(settings: Settings) -> str:
    """``HOST:PORT`` of Kafka from ``SQUALL_BROKER=kafka://...``, else 127.0.0.1:9092."""
    scheme, _, rest = settings.broker.partition("://")
    if scheme == "kafka" and rest:
        return rest.rstrip("/")
    return "127.0.0.1:9092"


def up(settings: Settings, *, supervisor: bool = True) -> list[ServiceState]:
    """Start ZooKeeper and Druid (see the module docstring); one state per process,
    whose detail says how long it took to become healthy."""
    began = time.monotonic()
    lib = zookeeper.lib_dir(settings)
    jars_s = time.monotonic() - began
    states = zookeeper.up(settings, lib)
    _, conf, var = _dirs(settings)
    _write_conf(conf, var, f"{zookeeper.HOST}:{zookeeper.PORT}")
    jvms = services(settings, lib)
    # the coordinator first (Derby, overlord), then the others together
    for wave in (jvms[:1], jvms[1:]):
        wave_began = time.monotonic()
        started = [(svc, *process.start(svc)) for svc in wave]
        for svc, pid, fresh in started:
            process.wait_healthy(svc, pid, _health_check(_port(svc)), START_TIMEOUT)
            took = time.monotonic() - wave_began
            detail = f"healthy {took:.1f} s after start" if fresh else "already running"
            states.append(
                ServiceState(
                    svc.name, True, pid, _address(svc), True, f"{detail}; log {svc.log_file}"
                )
            )
    total = time.monotonic() - began
    if supervisor:
        answer = submit_supervisor(settings)
        states.append(
            ServiceState(
                f"supervisor {answer.get('id', settings.datasource)}",
                True,
                None,
                f"{settings.topic_metrics} @ {kafka_bootstrap(settings)}",
                True,
                "submitted",
            )
        )
        if settings.events:
            answer = submit_events_supervisor(settings)
            states.append(
                ServiceState(
                    f"supervisor {answer.get('id', settings.events_datasource)}",
                    True,
                    None,
                    f"{settings.topic_events} @ {kafka_bootstrap(settings)}",
                    True,
                    f"submitted, retention {settings.events_retention_days or 'forever'} days",
                )
            )
    log.info("Druid is up in %.1f s (jars %.1f s); router %s", total, jars_s, ROUTER_URL)
    return states


def start_service(settings: Settings, name: str) -> ServiceState:
    """Start the one Druid service ``name`` (e.g. ``druid-indexer``) unless it runs, and
    wait until it is healthy; the others and ZooKeeper are left alone (``up`` must have
    written the configuration). For restarting a service that died, as chaos does,
    without waiting on the health of any other."""
    svc = next((s for s in services(settings) if s.name == name), None)
    if svc is None:
        known = ", ".join(s.name for s in services(settings))
        raise ServiceFailed(f"no Druid service {name!r}; the services are {known}")
    began = time.monotonic()
    pid, fresh = process.start(svc)
    process.wait_healthy(svc, pid, _health_check(_port(svc)), START_TIMEOUT)
    took = time.monotonic() - began
    detail = f"healthy {took:.1f} s after start" if fresh else "already running"
    return ServiceState(svc.name, True, pid, _address(svc), True, f"{detail}; log {svc.log_file}")


def _address(svc: process.JvmService) -> str:
    return f"http://{HOST}:{_port(svc)}"


def submit_supervisor(
    settings: Settings, timeout: float = 120.0, overlord_url: str = OVERLORD_URL
) -> dict[str, Any]:
    """POST the Kafka supervisor spec to the overlord (or a router, which forwards it),
    retrying while it is not leader yet; the overlord's answer (``{"id": datasource}``)."""
    spec = supervisor_spec(settings.topic_metrics, kafka_bootstrap(settings), settings.datasource)
    return _post_json(spec, f"{overlord_url}/druid/indexer/v1/supervisor", timeout)


def submit_events_supervisor(
    settings: Settings, timeout: float = 120.0, overlord_url: str = OVERLORD_URL
) -> dict[str, Any]:
    """The raw events' supervisor (``logs.events`` -> ``settings.events_datasource``), and
    its retention rule (``settings.events_retention_days``; 0 keeps all); as
    ``submit_supervisor``."""
    spec = events_supervisor_spec(
        settings.topic_events, kafka_bootstrap(settings), settings.events_datasource
    )
    answer = _post_json(spec, f"{overlord_url}/druid/indexer/v1/supervisor", timeout)
    rules = retention_rules(settings.events_retention_days)
    _post_json(
        rules, f"{overlord_url}/druid/coordinator/v1/rules/{settings.events_datasource}", timeout
    )
    return answer


def _post_json(spec: Any, url: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            response = httpx.post(url, json=spec, timeout=30)
            if response.status_code == 200:
                answer: dict[str, Any] = response.json() if response.content else {}
                return answer
            last = f"HTTP {response.status_code}: {response.text[:500]}"
            if response.status_code == 400:  # the spec itself is wrong: retrying won't help
                raise ServiceFailed(f"the overlord rejected {url}'s spec: {last}")
        except httpx.HTTPError as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise ServiceTimeout(
                f"could not submit the spec to {url} within {timeout:.0f} s "
                f"({last}); check the coordinator's log and `squall stack status druid`"
            )
        time.sleep(1.0)  # polling the overlord until it leads


def terminate_supervisor(settings: Settings, datasource: str | None = None) -> bool:
    """Stop the supervisor of ``datasource`` (``settings.datasource``) and its tasks
    (publishing what they read); True if there was one."""
    name = datasource or settings.datasource
    url = f"{OVERLORD_URL}/druid/indexer/v1/supervisor/{name}/terminate"
    try:
        response = httpx.post(url, timeout=30)
    except httpx.HTTPError as exc:
        raise ServiceFailed(f"cannot reach the overlord at {OVERLORD_URL}: {exc}") from exc
    return response.status_code == 200


def drop_datasource(settings: Settings, datasource: str | None = None) -> None:
    """Mark every segment of ``datasource`` (``settings.datasource``) unused: queries no
    longer see it."""
    url = f"{OVERLORD_URL}/druid/coordinator/v1/datasources/{datasource or settings.datasource}"
    try:
        httpx.delete(url, timeout=30)
    except httpx.HTTPError as exc:
        raise ServiceFailed(f"cannot reach the coordinator at {OVERLORD_URL}: {exc}") from exc


def is_up(settings: Settings) -> bool:
    """True when ZooKeeper and every Druid service run and are healthy."""
    if not zookeeper.healthy():
        return False
    return all(
        process.running_pid(svc) is not None and healthy(_port(svc)) for svc in services(settings)
    )


def down(settings: Settings) -> list[ServiceState]:
    """Stop the Druid services (all at once), then ZooKeeper."""
    jvms = services(settings)
    with ThreadPoolExecutor(len(jvms)) as pool:  # each may take seconds to shut down
        done = list(pool.map(lambda svc: process.stop(svc, STOP_TIMEOUT), jvms))
    states = [
        ServiceState(
            svc.name, False, None, _address(svc), False, "stopped" if was else "was not running"
        )
        for svc, was in zip(jvms, done, strict=True)
    ]
    return states + zookeeper.down(settings)  # last: Druid hangs on shutdown without it


def status(settings: Settings) -> list[ServiceState]:
    """ZooKeeper, each Druid service, then the supervisor's state when Druid runs."""
    states = zookeeper.status(settings)
    for svc in services(settings):
        pid = process.running_pid(svc)
        if pid is None:
            states.append(ServiceState(svc.name, False, None, _address(svc)))
        else:
            states.append(
                ServiceState(
                    svc.name, True, pid, _address(svc), healthy(_port(svc)), f"log {svc.log_file}"
                )
            )
    if any(s.running for s in states[1:]):
        states.append(_supervisor_state(settings))
    return states


def _supervisor_state(settings: Settings) -> ServiceState:
    name = f"supervisor {settings.datasource}"
    url = f"{OVERLORD_URL}/druid/indexer/v1/supervisor/{settings.datasource}/status"
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        return ServiceState(name, False, detail=f"overlord not reachable ({exc})")
    if response.status_code != 200:
        return ServiceState(name, False, detail=f"not submitted (HTTP {response.status_code})")
    payload = response.json().get("payload", {})
    state = payload.get("detailedState", "?")
    errors = payload.get("recentErrors") or []
    last_error = f"; last error: {errors[-1].get('message', '')[:200]}" if errors else ""
    return ServiceState(
        name,
        True,
        None,
        str(payload.get("stream", "?")),
        state == "RUNNING",
        f"{state}, lag {payload.get('aggregateLag', '?')}{last_error}",
    )
