"""Shared fixtures. Real-service suites (Kafka, Druid) fail, never skip, when CI=true."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def apache_log_lines() -> list[str]:
    """The 10,000 real combined-log lines of tests/data/apache_logs."""
    return (DATA / "apache_logs").read_text(encoding="utf-8").splitlines()
