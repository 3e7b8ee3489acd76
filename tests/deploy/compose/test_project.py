"""``squall compose``'s checks and messages, without an engine."""

from __future__ import annotations

import socket

import pytest

from squall.deploy.compose import project
from squall.deploy.exceptions import PortInUse


def test_a_taken_port_names_the_variable_that_moves_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=r"SQUALL_SERVE_PORT=<port> in deploy/\.env"):
            project._check_ports_free({"SQUALL_SERVE_PORT": port})


def test_published_ports_default_to_the_designed_ones_and_follow_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(project, "_env_file", dict)  # as without a deploy/.env
    assert project.published_ports({}) == {
        "SQUALL_COLLECTOR_PORT": 8100,
        "SQUALL_SERVE_PORT": 8200,
        "DRUID_CONSOLE_PORT": 8888,
    }
    assert (
        project.published_ports({"SQUALL_COLLECTOR_PORT": "18100"})["SQUALL_COLLECTOR_PORT"]
        == 18100
    )


def _status(
    service: str, state: str, health: str = "", code: int = 0, oom: bool = False
) -> project.ServiceStatus:
    return project.ServiceStatus(service, f"squall-{service}-1", state, health, code, oom)


def test_a_job_is_ready_when_it_exited_zero_and_a_service_when_healthy() -> None:
    assert _status("init", "exited", code=0).ready
    assert not _status("init", "exited", code=1).ready
    assert not _status("init", "running").ready
    assert _status("kafka", "running", "healthy").ready
    assert not _status("kafka", "running", "starting").ready
    assert _status("topology", "running").ready  # no healthcheck: running is all


def test_a_container_killed_for_memory_says_what_to_do() -> None:
    message = project._failure([_status("indexer", "exited", code=137, oom=True)])
    assert "lack of memory" in message and "8 GiB" in message
    assert "squall compose logs indexer" in message
