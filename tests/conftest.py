"""Shared fixtures. Real-service suites (Kafka, Druid) fail, never skip, when CI=true."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def apache_log_lines() -> list[str]:
    """The 10,000 real combined-log lines of tests/data/apache_logs."""
    return (DATA / "apache_logs").read_text(encoding="utf-8").splitlines()


# -- real Kafka ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """HOST:PORT of a running Kafka; fails (CI=true) or skips when none answers."""
    bootstrap = os.environ.get("SQUALL_TEST_KAFKA", "127.0.0.1:9092")
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError as exc:
        reason = (
            f"no Kafka at {bootstrap} ({exc}); start one with `.venv/bin/squall stack up "
            f"kafka` (or set SQUALL_TEST_KAFKA)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return bootstrap


# -- real Druid (with the Kafka it ingests from) -------------------------------------------


def _real_service_unavailable(what: str, exc: BaseException) -> None:
    """Fail under CI=true (a real service that cannot start is a failure), else skip."""
    import os

    message = f"{what} cannot start here: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def druid_stack() -> Iterator[Any]:
    """Settings of a running local Druid and the Kafka it reads (``SQUALL_TEST_KAFKA``,
    default 127.0.0.1:9092): each started by ``deploy.stack`` if not already up, and
    stopped again at the end if started here."""
    import os
    import socket

    from squall.deploy.stack import druid
    from squall.exceptions import SquallError
    from squall.settings import load_settings

    bootstrap = os.environ.get("SQUALL_TEST_KAFKA", "127.0.0.1:9092")
    settings = load_settings(overrides={"broker": f"kafka://{bootstrap}"})
    host, _, port = bootstrap.partition(":")
    stop: list[Any] = []
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            pass
    except OSError:
        try:
            from squall.deploy.stack import kafka

            kafka.up(settings)
            stop.append(kafka.down)
        except SquallError as exc:
            _real_service_unavailable("Kafka (for Druid)", exc)
    was_up = druid.is_up(settings)
    try:
        druid.up(settings)
    except SquallError as exc:
        _real_service_unavailable("Druid", exc)
    if not was_up:
        stop.insert(0, druid.down)
    yield settings
    for down in stop:
        down(settings)
