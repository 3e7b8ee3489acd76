"""A stalled sink fills the channel; the source answers 503 + Retry-After; nothing
accepted is lost, and everything recovers by itself once the sink is back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from squall.ingest.agent import Agent
from squall.ingest.channels import FileChannel
from squall.ingest.send import send_file

from .conftest import GateSink, channel_state, wait_for

FAST = {"backoff_initial": 0.01, "backoff_max": 0.05}


def test_stalled_sink_leads_to_503_and_no_accepted_event_is_lost(
    tmp_path: Path, gate_sink: GateSink, serve: Callable[[Agent], httpx.Client]
) -> None:
    channel = FileChannel(tmp_path / "ch", capacity_events=50, retry_after=2)
    agent = Agent(channel, gate_sink, runner_options=FAST)
    client = serve(agent)
    gate_sink.gate.clear()
    accepted: list[str] = []
    refused = 0
    for r in range(8):
        bodies = [f"r{r}-e{i}" for i in range(10)]
        resp = client.post("/events", json=[{"body": b} for b in bodies])
        if resp.status_code == 200:
            accepted += bodies
        else:
            before = channel_state(channel)
            assert resp.status_code == 503
            assert resp.headers["retry-after"] == "2"
            assert "file channel is full" in resp.json()["error"]
            assert channel_state(channel) == before
            refused += 1
    assert (len(accepted), refused) == (50, 3)
    assert gate_sink.delivered() == []

    gate_sink.gate.set()  # the broker is back
    wait_for(lambda: channel.stats().events == 0, what="the backlog to drain")
    assert [e["body"] for e in gate_sink.delivered()] == accepted
    resp = client.post("/events", json=[{"body": "after"}])
    assert resp.json() == {"accepted": 1}
    wait_for(lambda: len(gate_sink.delivered()) == 51, what="the new event")


def test_send_waits_out_backpressure_and_ships_every_line(
    tmp_path: Path,
    gate_sink: GateSink,
    serve: Callable[[Agent], httpx.Client],
    apache_log_lines: list[str],
) -> None:
    channel = FileChannel(tmp_path / "ch", capacity_events=400, retry_after=0.5)
    agent = Agent(channel, gate_sink, runner_options=FAST)
    client = serve(agent)
    log = tmp_path / "access.log"
    lines = apache_log_lines[:2000]
    log.write_text("\n".join(lines) + "\n\n")
    gate_sink.gate.clear()

    def reopen_when_refusing() -> None:
        def refusing() -> bool:
            return 'reason="channel_full"' in client.get("/metrics").text

        wait_for(refusing, timeout=30, what="a 503")
        gate_sink.gate.set()

    opener = threading.Thread(target=reopen_when_refusing)
    opener.start()
    accepted = send_file(
        str(log), url=str(client.base_url), service="web", batch=150, progress=False
    )
    opener.join()
    assert accepted == 2000
    wait_for(lambda: channel.stats().events == 0, what="the channel to drain")
    out = gate_sink.delivered()
    assert [e["body"] for e in out] == lines
    assert {e["headers"]["service"] for e in out} == {"web"}
