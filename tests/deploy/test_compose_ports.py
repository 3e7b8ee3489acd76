"""deploy/docker-compose.yml publishes every port on 127.0.0.1 only, in every profile.

Read from the YAML itself, so it runs everywhere (tests/deploy/compose/ checks the same
through ``docker compose config`` on a machine with the compose plugin)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from squall.deploy.compose.project import COMPOSE_FILE


def _services() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    services: dict[str, Any] = doc["services"]
    return services


def _host_ip(port: object) -> str:
    """The address a ``ports`` entry binds on the host ("" = every interface)."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    # [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]; a ${VAR:-default} is one opaque part
    parts = re.sub(r"\$\{[^}]*\}", "VAR", str(port)).split(":")
    return parts[0] if len(parts) == 3 else ""


def test_every_published_port_binds_localhost_only() -> None:
    services = _services()
    profiles = {p for s in services.values() for p in s.get("profiles", [])}
    assert "cluster" in profiles  # the profiles this file has: all checked below
    published = 0
    for name, service in services.items():
        assert service.get("network_mode") != "host", f"{name} uses the host's network"
        for port in service.get("ports", []):
            assert _host_ip(port) == "127.0.0.1", f"{name} publishes {port!r} beyond localhost"
            published += 1
    assert published >= 3  # collector, query API, Druid console


def test_the_check_tells_open_bindings_apart() -> None:
    assert _host_ip("127.0.0.1:${SQUALL_SERVE_PORT:-8200}:8200") == "127.0.0.1"
    assert _host_ip("8200:8200") == ""
    assert _host_ip("${SQUALL_SERVE_PORT:-8200}:8200") == ""
    assert _host_ip("0.0.0.0:8200:8200") == "0.0.0.0"
    assert _host_ip("${HOST_IP:-127.0.0.1}:8200:8200") == "VAR"  # not provably local
    assert _host_ip({"target": 8200, "published": 8200}) == ""
    assert _host_ip({"target": 8200, "host_ip": "127.0.0.1"}) == "127.0.0.1"
