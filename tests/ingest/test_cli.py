"""``squall send`` end to end, and its failures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from squall.cli import main
from squall.ingest.agent import Agent
from squall.ingest.channels import MemoryChannel
from squall.ingest.exceptions import SendFailed
from squall.ingest.send import send_file

from .conftest import GateSink, wait_for


def test_squall_send_ships_a_file(
    tmp_path: Path,
    gate_sink: GateSink,
    serve: Callable[[Agent], httpx.Client],
    apache_log_lines: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = serve(Agent(MemoryChannel(), gate_sink))
    log = tmp_path / "access.log"
    log.write_text("\n".join(apache_log_lines[:2500]))  # no final newline
    code = main(
        [
            "send",
            str(log),
            "--url",
            str(client.base_url),
            "--service",
            "shop",
            "--batch",
            "1000",
            "--gzip",
        ]
    )
    assert code == 0
    assert "2500 events accepted" in capsys.readouterr().out
    wait_for(lambda: len(gate_sink.delivered()) == 2500, what="2500 events delivered")
    out = gate_sink.delivered()
    assert [e["body"] for e in out] == apache_log_lines[:2500]
    assert {e["headers"]["service"] for e in out} == {"shop"}


def test_send_reports_refusals_with_line_numbers(
    tmp_path: Path, gate_sink: GateSink, serve: Callable[[Agent], httpx.Client]
) -> None:
    client = serve(Agent(MemoryChannel(), gate_sink, tokens=("t",)))
    log = tmp_path / "a.log"
    log.write_text("one\ntwo\nthree\n")
    with pytest.raises(SendFailed, match=r"refused lines 1\.\.2 with 401: .*requires a token"):
        send_file(str(log), url=str(client.base_url), batch=2, progress=False)
    assert send_file(str(log), url=str(client.base_url), token="t", progress=False) == 3


def test_send_gives_up_on_an_unreachable_collector(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x\n")
    with pytest.raises(SendFailed, match="unreachable"):
        send_file(str(log), url="http://127.0.0.1:9", progress=False, connect_retry_seconds=0.3)


def test_collector_refuses_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("[channel]\ntype = 'tape'\n")
    assert main(["--data-dir", str(tmp_path), "collector", "--config", str(bad)]) == 1
    assert "unknown channel type 'tape'" in capsys.readouterr().err
