"""A warning per rejected request names status, reason, client and path, and a flood of
bad requests is held to a budget of lines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from squall.ingest.agent import Agent
from squall.ingest.channels import MemoryChannel
from squall.ingest.interceptors import build_chain
from squall.ingest.source.rejections import RejectionLog

from .conftest import GateSink


def test_a_rejected_request_is_logged_with_its_reason(
    tmp_path: Path,
    gate_sink: GateSink,
    serve: Callable[[Agent], httpx.Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = serve(Agent(MemoryChannel(), gate_sink, build_chain([])))
    caplog.set_level(logging.WARNING, logger="squall.ingest.source.http")
    r = client.post("/v1/logs", content=b"x", headers={"content-type": "image/png"})
    assert r.status_code == 415
    (line,) = [rec.getMessage() for rec in caplog.records if "rejected" in rec.getMessage()]
    assert line.startswith("rejected /v1/logs from 127.0.0.1:")
    assert "415 unsupported_media_type: Content-Type 'image/png' is not accepted" in line


def test_the_log_holds_to_its_budget_and_says_how_many_it_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    rejections = RejectionLog(logging.getLogger("t"), burst=3, period=10.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="t")
    for _ in range(8):
        rejections.warn(400, "malformed", "bad", "1.2.3.4:5", "/events")
    assert len(caplog.records) == 3
    now[0] += 10.0
    rejections.warn(413, "too_large", "big", "1.2.3.4:5", "/events")
    messages = [rec.getMessage() for rec in caplog.records]
    assert messages[3].startswith("5 more rejected requests were not logged in the last 10 s")
    assert messages[4] == "rejected /events from 1.2.3.4:5: 413 too_large: big"
