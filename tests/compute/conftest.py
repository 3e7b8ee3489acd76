"""Fixtures for the compute core's semantics tests.

Components run on the worker thread; tests read what they recorded only after an
event (``wait_idle``) or by polling a condition with a deadline (``wait_until``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from squall.compute import Config, LocalCluster


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    """A LocalCluster with a short message timeout, killed after the test."""
    with LocalCluster(Config(message_timeout=10, max_spout_pending=1000)) as c:
        yield c


WaitUntil = Callable[..., None]


@pytest.fixture
def wait_until() -> WaitUntil:
    """``wait_until(cond, timeout=10, what="...")``: poll ``cond`` until true or fail."""

    def wait(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.002)  # polling interval of the check, not synchronisation

    return wait
