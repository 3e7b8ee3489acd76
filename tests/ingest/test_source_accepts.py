"""Valid requests in every accepted shape reach the sink exactly as sent."""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from squall.ingest.agent import Agent
from squall.ingest.channels import FileChannel, MemoryChannel
from squall.ingest.interceptors import build_chain

from .conftest import GateSink, wait_for

CHAIN = [{"type": "timestamp"}, {"type": "host"}, {"type": "uuid"}]


@pytest.fixture
def agent(tmp_path: Path, gate_sink: GateSink) -> Agent:
    return Agent(FileChannel(tmp_path / "ch"), gate_sink, build_chain(CHAIN))


def delivered(sink: GateSink, n: int) -> list[dict[str, Any]]:
    wait_for(lambda: len(sink.delivered()) >= n, what=f"{n} events at the sink")
    return sink.delivered()


def test_flume_json_at_events_and_root(
    agent: Agent, gate_sink: GateSink, serve: Callable[[Agent], httpx.Client]
) -> None:
    client = serve(agent)
    sent = [
        {"headers": {"service": "web", "timestamp": "1431857103000"}, "body": "line one"},
        {"body": "no headers"},
        {"headers": {"k": "v"}},
        {"headers": None, "body": None},
        {},
    ]
    t0 = int(time.time() * 1000)
    assert client.post("/events", json=sent[:3]).json() == {"accepted": 3}
    assert client.post("/", json=sent[3:]).json() == {"accepted": 2}
    out = delivered(gate_sink, 5)
    assert [e["body"] for e in out] == ["line one", "no headers", "", "", ""]
    assert out[0]["headers"]["timestamp"] == "1431857103000"  # kept
    assert out[0]["headers"]["service"] == "web" and out[2]["headers"]["k"] == "v"
    for e in out[1:]:
        assert t0 <= int(e["headers"]["timestamp"]) <= int(time.time() * 1000)
    assert len({e["headers"]["id"] for e in out}) == 5
    assert all(e["headers"]["host"] for e in out)


def test_empty_event_list_is_accepted_as_nothing(
    agent: Agent, serve: Callable[[Agent], httpx.Client]
) -> None:
    client = serve(agent)
    assert client.post("/events", json=[]).json() == {"accepted": 0}
    assert agent.channel.stats().events == 0


def test_raw_lines_with_query_headers_and_gzip(
    agent: Agent,
    gate_sink: GateSink,
    serve: Callable[[Agent], httpx.Client],
    apache_log_lines: list[str],
) -> None:
    client = serve(agent)
    lines = apache_log_lines[:1500]
    plain = "\r\n".join(lines[:500]) + "\r\n"
    r = client.post(
        "/v1/logs?service=web&env=prod",
        content=plain.encode(),
        headers={"content-type": "text/plain; charset=utf-8"},
    )
    assert r.json() == {"accepted": 500}
    packed = gzip.compress(("\n".join(lines[500:]) + "\n\n").encode())
    r = client.post(
        "/v1/logs?service=api",
        content=packed,
        headers={"content-type": "text/plain", "content-encoding": "gzip"},
    )
    assert r.json() == {"accepted": 1000}
    out = delivered(gate_sink, 1500)
    assert [e["body"] for e in out] == lines
    assert {(e["headers"]["service"], e["headers"].get("env")) for e in out[:500]} == {
        ("web", "prod")
    }
    assert {e["headers"]["service"] for e in out[500:]} == {"api"}


def test_ndjson_lines_become_bodies_and_service_headers(
    agent: Agent, gate_sink: GateSink, serve: Callable[[Agent], httpx.Client]
) -> None:
    client = serve(agent)
    records = [
        {"ts": "2015-05-17T10:05:03Z", "service": "billing", "status": 200},
        {"ts": 1431857103, "path": "/x", "status": 503},
    ]
    body = b"\n".join(orjson.dumps(r) for r in records) + b"\n"
    r = client.post(
        "/v1/logs?service=default", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert r.json() == {"accepted": 2}
    out = delivered(gate_sink, 2)
    assert [orjson.loads(e["body"]) for e in out] == records
    assert [e["headers"]["service"] for e in out] == ["billing", "default"]


@pytest.mark.parametrize(
    ("charset", "encode"),
    [
        ("UTF-16", lambda s: s.encode("utf-16")),  # BOM (little-endian here)
        ("UTF-16", lambda s: s.encode("utf-16-be")),  # no BOM: big-endian, as Java
        ("utf-16le", lambda s: s.encode("utf-16-le")),
        ("UTF-32", lambda s: s.encode("utf-32")),
        ("UTF-32", lambda s: s.encode("utf-32-be")),
        ("ISO-8859-1", lambda s: s.encode("latin-1")),
        ("utf-8", lambda s: s.encode("utf-8-sig")),  # a UTF-8 BOM is skipped
    ],
)
def test_charsets_as_java_clients_send_them(
    agent: Agent,
    gate_sink: GateSink,
    serve: Callable[[Agent], httpx.Client],
    charset: str,
    encode: Callable[[str], bytes],
) -> None:
    client = serve(agent)
    text = '[{"headers": {"city": "Zürich"}, "body": "café ø"}]'
    r = client.post(
        "/events",
        content=encode(text),
        headers={"content-type": f"application/json; charset={charset}"},
    )
    assert r.json() == {"accepted": 1}
    raw = "naïve line\nsecond"
    r = client.post(
        "/v1/logs", content=encode(raw), headers={"content-type": f"text/plain; charset={charset}"}
    )
    assert r.json() == {"accepted": 2}
    out = delivered(gate_sink, 3)
    assert (out[0]["body"], out[0]["headers"]["city"]) == ("café ø", "Zürich")
    assert [e["body"] for e in out[1:]] == ["naïve line", "second"]


def test_tokens_and_memory_channel(
    tmp_path: Path,
    gate_sink: GateSink,
    serve: Callable[[Agent], httpx.Client],
) -> None:
    agent = Agent(MemoryChannel(), gate_sink, tokens=("one", "two"))
    client = serve(agent)
    for token in ("one", "two"):
        r = client.post(
            "/events", json=[{"body": token}], headers={"authorization": f"Bearer {token}"}
        )
        assert r.json() == {"accepted": 1}
    assert (
        client.post(
            "/events", json=[{"body": "x"}], headers={"authorization": "Bearer three"}
        ).status_code
        == 401
    )
    assert [e["body"] for e in delivered(gate_sink, 2)] == ["one", "two"]
    assert client.get("/healthz").status_code == 200  # health needs no token


def test_regex_filter_counts_dropped_events(
    tmp_path: Path,
    gate_sink: GateSink,
    serve: Callable[[Agent], httpx.Client],
) -> None:
    chain = build_chain([{"type": "regex_filter", "regex": "^keep"}])
    client = serve(Agent(MemoryChannel(), gate_sink, chain))
    r = client.post("/v1/logs", content=b"keep 1\ndrop 2\nkeep 3\n")
    assert r.json() == {"accepted": 2}
    metrics = client.get("/metrics").text
    assert re.search(r"^squall_ingest_filtered_events_total 1\.0$", metrics, re.M)
    assert [e["body"] for e in delivered(gate_sink, 2)] == ["keep 1", "keep 3"]


def test_healthz_and_metrics_report_channel_and_sink(
    agent: Agent, gate_sink: GateSink, serve: Callable[[Agent], httpx.Client]
) -> None:
    client = serve(agent)
    gate_sink.gate.clear()
    assert client.post("/v1/logs", content=b"a\nb\nc\n").json() == {"accepted": 3}
    wait_for(lambda: gate_sink.refused > 0, what="the sink to refuse")
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["channel"]["type"] == "file" and health["channel"]["events"] == 3
    assert health["sink"]["errors"] >= 1 and "gate is closed" in health["sink"]["last_error"]
    text = client.get("/metrics").text
    assert re.search(r"^squall_ingest_channel_events 3\.0$", text, re.M)
    assert re.search(r"^squall_ingest_accepted_events_total 3\.0$", text, re.M)
    assert re.search(r"^squall_ingest_sink_errors_total [1-9]", text, re.M)
    found = re.search(r"^squall_ingest_sink_lag_seconds (\S+)$", text, re.M)
    assert found is not None
    lag = float(found[1])
    assert lag > 0  # the three events wait in the channel: they are late
    gate_sink.gate.set()
    wait_for(lambda: agent.channel.stats().events == 0, what="the channel to drain")
    wait_for(
        lambda: client.get("/healthz").json()["sink"]["last_error"] is None,
        what="the sink to report recovery",
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",  # syslog-ng's http() and curl --data-binary
        "application/octet-stream",
        "text/x-log; charset=utf-8",
        None,
    ],
)
def test_the_content_types_shippers_send_by_default_are_lines_and_json(
    agent: Agent,
    gate_sink: GateSink,
    serve: Callable[[Agent], httpx.Client],
    content_type: str | None,
) -> None:
    client = serve(agent)
    headers = {"content-type": content_type} if content_type else {}
    lines = ['1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /a?x=1&y=%20 HTTP/1.1" 200 7', "b+c"]
    r = client.post("/v1/logs?service=web", content="\n".join(lines), headers=headers)
    assert r.json() == {"accepted": 2}
    r = client.post("/events", content=orjson.dumps([{"body": "a=b&c"}]), headers=headers)
    assert r.json() == {"accepted": 1}
    out = delivered(gate_sink, 3)
    assert [e["body"] for e in out] == [*lines, "a=b&c"]  # taken as sent: not form-decoded
    assert out[0]["headers"]["service"] == "web"
