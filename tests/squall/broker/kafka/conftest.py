"""Fixtures for Kafka-only tests: a private broker (the outage test) needs Java and Maven."""

from __future__ import annotations

import os
import shutil

import pytest

from squall.deploy.exceptions import JavaNotFound
from squall.deploy.stack import process


@pytest.fixture(scope="session")
def java_and_maven() -> None:
    """Fails (CI=true) or skips when Java 17+ or Maven is missing."""
    try:
        process.find_java()
        missing = None if shutil.which("mvn") else "no mvn on PATH"
    except JavaNotFound as exc:
        missing = str(exc)
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: the local stack cannot run here: {missing}")
        pytest.skip(f"the local stack cannot run here: {missing}")
