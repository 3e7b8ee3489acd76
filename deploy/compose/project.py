"""``squall compose build|up|down|status|logs``: deploy/docker-compose.yml through
python-on-whales.

* ``build``: fill the offline build contexts (``deploy.compose.context``), then build; a
  random metadata store password goes into deploy/.env if none is set
  (``deploy.compose.password``);
* ``up``: build, start every long-running service and the init job, wait until each is
  healthy and the init job has completed, print the URLs;
* ``status``: each service's state and health; ``logs``: their output;
* ``down``: stop and remove the containers and network (``--volumes``: the data too).

Errors say what to do: no engine (start one: ``make engine-up``), a published port
taken (which variable of ``.env`` moves it), a container killed for lack of memory.
Published ports come from the same variables the compose file reads
(``SQUALL_COLLECTOR_PORT``, ``SQUALL_SERVE_PORT``, ``DRUID_CONSOLE_PORT``), from the
environment or ``deploy/.env``.
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squall.deploy.compose import context, engine, password
from squall.deploy.exceptions import ComposeUnavailable, PortInUse, ServiceFailed, ServiceTimeout
from squall.deploy.stack import paths
from squall.settings import load_settings

__all__ = [
    "COMPOSE_FILE",
    "DIGEST_LABEL",
    "PORTS",
    "ServiceStatus",
    "build",
    "client",
    "published_ports",
    "run",
    "services",
    "status",
    "up",
    "wait_healthy",
]

COMPOSE_FILE = context.DEPLOY / "docker-compose.yml"
PORTS = {"SQUALL_COLLECTOR_PORT": 8100, "SQUALL_SERVE_PORT": 8200, "DRUID_CONSOLE_PORT": 8888}
"""Variable -> default of each published port (all on 127.0.0.1)."""
JOBS = ("init",)
"""One-shot services: ``up`` waits for them to exit 0, not to be healthy."""
UP_TIMEOUT = 900.0


@dataclass(frozen=True)
class ServiceStatus:
    """One container of the project as ``squall compose status`` shows it."""

    service: str
    container: str
    state: str  # running, exited, restarting, ...
    health: str  # healthy, starting, unhealthy, or "" without a healthcheck
    exit_code: int
    oom_killed: bool

    @property
    def ready(self) -> bool:
        if self.service in JOBS:
            return self.state == "exited" and self.exit_code == 0
        return self.state == "running" and self.health in ("healthy", "")

    def describe(self) -> str:
        health = f", {self.health}" if self.health else ""
        code = f" (exit {self.exit_code})" if self.state == "exited" else ""
        oom = " KILLED FOR LACK OF MEMORY" if self.oom_killed else ""
        return f"{self.service:<12} {self.container:<32} {self.state}{code}{health}{oom}"


def _env_file(directory: Path = context.DEPLOY) -> dict[str, str]:
    values: dict[str, str] = {}
    path = directory / ".env"
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.strip().startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    return values


def published_ports(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Variable -> host port, as compose will resolve them (environment over .env)."""
    env = {**_env_file(), **(os.environ if environ is None else environ)}
    return {name: int(env.get(name) or default) for name, default in PORTS.items()}


def client(profiles: Sequence[str] = (), project_name: str | None = None) -> Any:
    """A python-on-whales client for the project (after the engine check); the project
    name is ``squall`` (the compose file's) unless given or ``COMPOSE_PROJECT_NAME``."""
    if not engine.engine_running():
        raise ComposeUnavailable(
            "no Docker engine answers `docker info`. Start it (`sudo systemctl start docker`, "
            "or as root `make engine-up`, which starts Debian's dockerd) and run again."
        )
    from python_on_whales import DockerClient

    return DockerClient(
        compose_files=[COMPOSE_FILE],
        compose_project_directory=context.DEPLOY,
        compose_profiles=list(profiles),
        compose_project_name=project_name,
    )


def services(docker: Any) -> list[str]:
    """The project's services (for its profiles), from ``docker compose config``."""
    return sorted(docker.compose.config(return_json=True)["services"])


def up(docker: Any, names: Sequence[str] | None = None, scale: int | None = None) -> float:
    """Start ``names`` (default: every service but ``demo``) detached, wait until all are
    ready; seconds taken. The images must be built (``build``)."""
    began = time.monotonic()
    chosen = list(names) if names else [s for s in services(docker) if s != "demo"]
    scales = {"topology": scale} if scale else {}
    docker.compose.up(chosen, detach=True, scales=scales, quiet=True, pull="never", no_build=True)
    wait_healthy(docker)
    return time.monotonic() - began


def status(docker: Any) -> list[ServiceStatus]:
    """Every container of the project, the exited ones too."""
    out = []
    for container in docker.compose.ps(all=True):
        state = container.state
        health = state.health.status if state.health is not None else ""
        out.append(
            ServiceStatus(
                service=container.config.labels.get("com.docker.compose.service", "?"),
                container=container.name,
                state=str(state.status),
                health=str(health or ""),
                exit_code=int(state.exit_code or 0),
                oom_killed=bool(state.oom_killed),
            )
        )
    return sorted(out, key=lambda s: (s.service, s.container))


def _check_ports_free(ports: Mapping[str, int]) -> None:
    for name, port in ports.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                raise PortInUse(
                    f"127.0.0.1:{port} is taken ({exc.strerror}); stop what listens there "
                    f"(`squall stack down`?) or publish elsewhere: {name}=<port> in deploy/.env"
                ) from exc


def wait_healthy(docker: Any, timeout: float = UP_TIMEOUT) -> list[ServiceStatus]:
    """Poll the containers' health (Docker runs the checks) until all are ready."""
    deadline = time.monotonic() + timeout
    while True:
        states = status(docker)
        failed = [
            s
            for s in states
            if s.oom_killed
            or s.health == "unhealthy"
            or (s.state == "exited" and (s.service not in JOBS or s.exit_code != 0))
        ]
        if failed:
            raise ServiceFailed(_failure(failed))
        if states and all(s.ready for s in states):
            return states
        if time.monotonic() > deadline:
            waiting = ", ".join(s.service for s in states if not s.ready)
            raise ServiceTimeout(
                f"not healthy within {timeout:.0f} s: {waiting}; "
                f"see `squall compose logs {waiting.split(',')[0]}`"
            )
        time.sleep(1.0)  # Docker's healthchecks run every few seconds; nothing to await


def _failure(failed: Sequence[ServiceStatus]) -> str:
    lines = []
    for s in failed:
        if s.oom_killed:
            lines.append(
                f"{s.service} was killed for lack of memory: give Docker more memory "
                f"(the stack needs about 8 GiB) or raise its mem_limit in docker-compose.yml"
            )
        else:
            lines.append(f"{s.service} failed: {s.state}, exit {s.exit_code}, {s.health}")
    names = " ".join(s.service for s in failed)
    return "; ".join(lines) + f". Its output: `squall compose logs {names}`"


def _urls(ports: Mapping[str, int]) -> list[str]:
    return [
        f"dashboard      http://127.0.0.1:{ports['SQUALL_SERVE_PORT']}/",
        f"query API      http://127.0.0.1:{ports['SQUALL_SERVE_PORT']}/api/v1/query",
        f"collector      http://127.0.0.1:{ports['SQUALL_COLLECTOR_PORT']}/v1/logs",
        f"Druid console  http://127.0.0.1:{ports['DRUID_CONSOLE_PORT']}/",
    ]


DIGEST_LABEL = "org.squall.context-digest"
"""The label each image built from a host-resolved context carries: that context's
``context.digest``, set through ``SQUALL_<IMAGE>_DIGEST`` (deploy/docker-compose.yml)."""


def _up_to_date(docker: Any, image: str, digest: str) -> bool:
    from python_on_whales.exceptions import NoSuchImage

    try:
        labels = docker.image.inspect(image).config.labels or {}
    except NoSuchImage:
        return False
    return bool(labels.get(DIGEST_LABEL) == digest)


def build(docker: Any) -> float:
    """Fill the build contexts on the host, then build the images whose context changed;
    seconds taken. The classic builder sends a context whole (hundreds of MB of jars) even
    when every layer is cached, so an image whose label holds its context's digest is not
    sent again: "nothing changed" costs a directory walk, not a build."""
    began = time.monotonic()
    if password.ensure(context.DEPLOY / ".env"):
        print(f"wrote a random {password.VARIABLE} into deploy/.env", flush=True)
    context.prepare(paths(load_settings()))
    contexts = context.build_contexts()
    os.environ.update(contexts)
    digests = {
        image: context.digest(image)
        for image in context.IMAGES
        if f"SQUALL_{image.upper()}_CONTEXT" in contexts
    }
    os.environ.update({f"SQUALL_{image.upper()}_DIGEST": d for image, d in digests.items()})
    stale = []
    for name, service in docker.compose.config().services.items():
        if service.build is None:
            continue
        image = next((i for i in digests if f"/{i}:" in (service.image or "")), None)
        if image is None or not _up_to_date(docker, service.image, digests[image]):
            stale.append(name)
    if stale:
        docker.compose.build(stale, quiet=True)
    return time.monotonic() - began


def run(args: argparse.Namespace) -> int:
    """The ``squall compose`` handler (``deploy.cli.run_compose``)."""
    if args.profile:  # as an environment variable: the compose file reads it (Kafka's layout)
        os.environ["COMPOSE_PROFILES"] = ",".join(args.profile)
    docker = client()
    if args.action == "build":
        print(f"images built in {build(docker):.1f} s", flush=True)
    elif args.action == "up":
        ports = published_ports()
        running = {s.service for s in status(docker) if s.state == "running"}
        if not running:
            _check_ports_free(ports)
        print(f"images built in {build(docker):.1f} s", flush=True)
        took = up(docker, args.service, args.scale)
        print(f"{len(status(docker))} containers ready in {took:.1f} s", flush=True)
        print("\n".join(_urls(ports)), flush=True)
    elif args.action == "status":
        states = status(docker)
        print("\n".join(s.describe() for s in states) or "no containers (`squall compose up`)")
        return 0 if states and all(s.ready for s in states) else 1
    elif args.action == "logs":
        print(docker.compose.logs(list(args.service), tail="200"), flush=True)
    elif args.action == "down":
        docker.compose.down(remove_orphans=True, volumes=args.volumes, quiet=True)
        print("stopped" + (" and deleted the volumes" if args.volumes else ""), flush=True)
    return 0
