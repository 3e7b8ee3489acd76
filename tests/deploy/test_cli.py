"""deploy.cli without starting anything: dispatch, reports, errors."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from squall.deploy import cli
from squall.deploy.exceptions import ComposeUnavailable, UnknownService
from squall.deploy.stack import SERVICES, ServiceState, paths
from squall.settings import load_settings


def test_every_registered_service_has_the_three_actions() -> None:
    for name in SERVICES:
        module = cli.service_module(name)
        for action in ("up", "down", "status"):
            assert callable(getattr(module, action)), f"{name}.{action}"


def test_unknown_service_is_refused() -> None:
    with pytest.raises(UnknownService, match="kafka"):
        cli.service_module("rabbitmq")


def test_status_of_an_empty_stack_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SQUALL_STACK_DIR", str(tmp_path))
    args = argparse.Namespace(action="status", service="kafka", data_dir=None)
    assert cli.run_stack(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("kafka: not running")


def test_paths_follow_the_environment(tmp_path: Path) -> None:
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")})
    default = paths(settings, environ={})
    assert default.root == (tmp_path / "data" / "stack").resolve()
    assert default.lib_dir("kafka") == default.root / "jars" / "kafka"
    assert default.maven_repo is None
    moved = paths(
        settings,
        environ={
            "SQUALL_STACK_DIR": str(tmp_path / "s"),
            "SQUALL_STACK_JARS": str(tmp_path / "j"),
            "SQUALL_MAVEN_REPO": str(tmp_path / "m2"),
        },
    )
    assert moved.service_dir("kafka") == (tmp_path / "s" / "kafka").resolve()
    assert moved.lib_dir("kafka") == (tmp_path / "j" / "kafka").resolve()
    assert moved.maven_repo == (tmp_path / "m2").resolve()


def test_service_state_lines() -> None:
    up = ServiceState("kafka", True, 42, "127.0.0.1:9092", True, "already running")
    assert up.describe() == "kafka: running (pid 42) on 127.0.0.1:9092, healthy; already running"
    sick = ServiceState("kafka", True, 42, "127.0.0.1:9092", False)
    assert "NOT healthy" in sick.describe()
    assert ServiceState("kafka", False).describe() == "kafka: not running"


def test_compose_without_docker_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not any((Path(p) / "docker").exists() for p in os.environ["PATH"].split(":"))
    args = argparse.Namespace(action="up", profile=[], service=[], scale=None, volumes=False)
    with pytest.raises(ComposeUnavailable, match="squall stack up"):
        cli.run_compose(args)
