"""Malformed requests: each gets the right status and a message saying what is wrong,
and leaves the channel (its counts and its files on disk) exactly as it was."""

from __future__ import annotations

import gzip
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import requests

from squall.ingest.agent import Agent
from squall.ingest.channels import FileChannel, MemoryChannel
from squall.ingest.interceptors import build_chain
from squall.ingest.source import Limits

from .conftest import GateSink, channel_state

TOKEN = "s3cret-token"
LIMITS = Limits(
    max_body_bytes=64 * 1024,
    max_decompressed_bytes=256 * 1024,
    max_events=100,
    max_headers=8,
    max_header_bytes=256,
)
JSON = {"content-type": "application/json"}
TEXT = {"content-type": "text/plain"}
NDJSON = {"content-type": "application/x-ndjson"}


def j(doc: Any) -> bytes:
    return orjson.dumps(doc)


def chunked(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), 8192):
        yield data[i : i + 8192]


BOMB = gzip.compress(b"\0" * (10 * 2**20), 9)
GOOD_GZ = gzip.compress(j([{"body": "fine"}]))

# (id, path, headers, body, status, message regex)
CASES: list[tuple[str, str, dict[str, str], Any, int, str]] = [
    ("truncated-json", "/events", JSON, b'[{"body": "x"', 400, "body is not valid JSON"),
    ("trailing-garbage", "/events", JSON, b"[] x", 400, "body is not valid JSON"),
    (
        "top-level-object",
        "/events",
        JSON,
        j({"body": "x"}),
        400,
        "body must be a JSON array of events.*got an object",
    ),
    ("top-level-string", "/events", JSON, j("x"), 400, "must be a JSON array.*got a string"),
    (
        "event-not-object",
        "/events",
        JSON,
        j(["x"]),
        400,
        "event 1: must be an object.*got a string",
    ),
    (
        "second-event-number",
        "/events",
        JSON,
        j([{"body": "a"}, 3]),
        400,
        "event 2: must be an object.*got a number",
    ),
    (
        "headers-array",
        "/events",
        JSON,
        j([{"headers": ["a"], "body": "x"}]),
        400,
        "event 1: 'headers' must be an object of strings, got an array",
    ),
    (
        "header-number",
        "/events",
        JSON,
        j([{"body": "ok"}, {"headers": {"x": 1}}]),
        400,
        "event 2: header 'x' value must be a string, got a number",
    ),
    (
        "header-null",
        "/events",
        JSON,
        j([{"headers": {"x": None}}]),
        400,
        "event 1: header 'x' value must be a string, got null",
    ),
    (
        "header-nested",
        "/events",
        JSON,
        j([{"headers": {"x": {"y": "z"}}}]),
        400,
        "header 'x' value must be a string, got an object",
    ),
    (
        "body-number",
        "/events",
        JSON,
        j([{"body": 5}]),
        400,
        "event 1: 'body' must be a string, got a number",
    ),
    (
        "body-object",
        "/events",
        JSON,
        j([{"body": {"a": "b"}}]),
        400,
        "'body' must be a string, got an object",
    ),
    (
        "unknown-field",
        "/events",
        JSON,
        j([{"body": "x", "extra": 1}]),
        400,
        "event 1: unknown field 'extra'",
    ),
    (
        "only-unknown-field",
        "/events",
        JSON,
        j([{"hdrs": {}}]),
        400,
        "event 1: unknown field 'hdrs'",
    ),
    ("lone-surrogate", "/events", JSON, b'[{"body": "\\ud800"}]', 400, "not valid JSON"),
    (
        "invalid-utf8",
        "/events",
        JSON,
        b'[{"body": "\xff"}]',
        400,
        r"not valid UTF-8 at byte 11 \(line 1\)",
    ),
    (
        "latin1-declared-utf8",
        "/events",
        {"content-type": "application/json; charset=utf-8"},
        j([{"body": "x"}]).replace(b"x", "café".encode("latin-1")),
        400,
        "not valid UTF-8",
    ),
    (
        "utf8-declared-utf16",
        "/events",
        {"content-type": "application/json; charset=UTF-16"},
        b'[{"body":"xy"}]',
        400,
        "not valid UTF-16",
    ),
    (
        "utf8-declared-utf32",
        "/events",
        {"content-type": "application/json; charset=utf-32"},
        b'[{"body":"xyz"}]',
        400,
        "not valid UTF-32",
    ),
    (
        "unknown-charset",
        "/events",
        {"content-type": "application/json; charset=klingon"},
        j([]),
        415,
        "charset 'klingon' is not supported",
    ),
    ("empty-body", "/events", JSON, b"", 400, "request body is empty"),
    (
        "oversized-body",
        "/events",
        JSON,
        b"[" + b" " * (70 * 1024) + b"]",
        413,
        "over the 65536-byte limit",
    ),
    ("oversized-chunked", "/v1/logs", TEXT, "chunked", 413, "body is over the 65536-byte limit"),
    (
        "gzip-bomb",
        "/events",
        {**JSON, "content-encoding": "gzip"},
        BOMB,
        413,
        "decompresses to more than 262144 bytes",
    ),
    (
        "corrupt-gzip",
        "/events",
        {**JSON, "content-encoding": "gzip"},
        b"\x1f\x8bnot gzip at all",
        400,
        "body is not valid gzip",
    ),
    (
        "truncated-gzip",
        "/events",
        {**JSON, "content-encoding": "gzip"},
        GOOD_GZ[:12],
        400,
        "gzip body is truncated",
    ),
    (
        "plain-declared-gzip",
        "/events",
        {**JSON, "content-encoding": "gzip"},
        j([]),
        400,
        "not valid gzip",
    ),
    (
        "brotli",
        "/events",
        {**JSON, "content-encoding": "br"},
        j([]),
        415,
        "Content-Encoding 'br' is not supported",
    ),
    (
        "text-at-events",
        "/events",
        TEXT,
        b"a line",
        400,
        "body is not valid JSON.*/events takes Flume JSON events; raw lines go to /v1/logs",
    ),
    (
        "flume-json-at-logs",
        "/v1/logs",
        JSON,
        j([{"body": "x"}]),
        400,
        "not an OTLP ExportLogsServiceRequest in OTLP JSON",
    ),
    (
        "form-at-root",
        "/",
        {"content-type": "application/x-www-form-urlencoded"},
        b"a=b",
        400,
        "body is not valid JSON",
    ),
    (
        "image-at-logs",
        "/v1/logs",
        {"content-type": "image/png"},
        b"\x89PNG",
        415,
        "Content-Type 'image/png' is not accepted at /v1/logs",
    ),
    (
        "multipart-at-events",
        "/events",
        {"content-type": "multipart/form-data; boundary=x"},
        b"--x--",
        415,
        "Content-Type 'multipart/form-data' is not accepted at /events",
    ),
    ("missing-token", "/events", {**JSON, "authorization": ""}, j([]), 401, "requires a token"),
    (
        "wrong-token",
        "/events",
        {**JSON, "authorization": "Bearer nope"},
        j([]),
        401,
        "bearer token is not valid",
    ),
    (
        "basic-auth",
        "/v1/logs",
        {**TEXT, "authorization": "Basic dXNlcjpwYXNz"},
        b"x",
        401,
        "must be 'Bearer <token>'",
    ),
    (
        "too-many-events",
        "/events",
        JSON,
        j([{"body": str(i)} for i in range(101)]),
        413,
        "request has 101 events, at most 100",
    ),
    ("too-many-lines", "/v1/logs", TEXT, b"line\n" * 101, 413, "request has 101 events"),
    (
        "too-many-headers",
        "/events",
        JSON,
        j([{"headers": {str(i): "v" for i in range(9)}}]),
        400,
        "event 1: 9 headers, at most 8 are allowed",
    ),
    (
        "header-too-big",
        "/events",
        JSON,
        j([{"headers": {"k": "v" * 300}}]),
        400,
        "event 1: headers total 301 characters, at most 256",
    ),
    (
        "too-many-query-headers",
        "/v1/logs?" + "&".join(f"q{i}=v" for i in range(9)),
        TEXT,
        b"x",
        400,
        "query parameters: 9 headers",
    ),
    (
        "id-query-parameter",
        "/v1/logs?service=a&id=1",
        TEXT,
        b"x\ny\n",
        400,
        "query parameter 'id' would give every line the same id",
    ),
    ("ndjson-bad-line", "/v1/logs", NDJSON, b'{"a": 1}\n{"a": \n', 400, "line 2: not valid JSON"),
    (
        "ndjson-array-line",
        "/v1/logs",
        NDJSON,
        b"[1, 2]\n",
        400,
        "line 1: must be a JSON object, got an array",
    ),
    ("only-blank-lines", "/v1/logs", TEXT, b"\n \n\r\n", 400, "no log lines"),
    (
        "invalid-utf8-line-3",
        "/v1/logs",
        TEXT,
        b"one\ntwo\nth\xc3\x28ree\n",
        400,
        r"not valid UTF-8 at byte 10 \(line 3\)",
    ),
]


@pytest.fixture(scope="module")
def collector(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[httpx.Client, Agent, Path]]:
    from .conftest import LiveServer

    tmp = tmp_path_factory.mktemp("rejects")
    sink = GateSink(tmp / "out.jsonl")
    sink.gate.clear()  # the sink is down: everything accepted stays in the channel
    channel = FileChannel(tmp / "channel")
    agent = Agent(
        channel,
        sink,
        build_chain([{"type": "uuid"}]),
        LIMITS,
        (TOKEN,),
        {"backoff_initial": 0.05, "backoff_max": 0.1},
    )
    with (
        LiveServer(agent.app) as server,
        httpx.Client(
            base_url=server.url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client,
    ):
        r = client.post("/events", content=j([{"body": "before"}] * 3), headers=JSON)
        assert r.status_code == 200
        yield client, agent, tmp / "channel"


def disk(channel_dir: Path) -> list[tuple[str, int]]:
    return sorted((p.name, p.stat().st_size) for p in channel_dir.glob("wal-*.log"))


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "message"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_malformed_request_is_refused_and_changes_nothing(
    collector: tuple[httpx.Client, Agent, Path],
    path: str,
    headers: dict[str, str],
    body: Any,
    status: int,
    message: str,
) -> None:
    client, agent, channel_dir = collector
    before = (channel_state(agent.channel), disk(channel_dir))
    content: bytes | Iterator[bytes] = chunked(b"x\n" * 40_000) if body == "chunked" else body
    if headers.get("authorization") == "":
        headers = {k: v for k, v in headers.items() if k != "authorization"}
        response = httpx.post(client.base_url.join(path), content=content, headers=headers)
    else:
        response = client.post(path, content=content, headers=headers)
    assert response.status_code == status, response.text
    doc = response.json()
    if "code" in doc:  # an OTLP request: a google.rpc.Status, INVALID_ARGUMENT for a 400
        assert (doc["code"], status) == (3, 400)
        doc = {"status": status, "error": doc["message"]}
    assert doc["status"] == status
    assert re.search(message, doc["error"]), doc["error"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert (channel_state(agent.channel), disk(channel_dir)) == before


def test_rejections_are_counted_by_reason(collector: tuple[httpx.Client, Agent, Path]) -> None:
    client, _, _ = collector
    client.post("/events", content=b"[", headers=JSON)
    text = client.get("/metrics").text
    values = dict(
        re.findall(r'squall_ingest_rejected_requests_total\{reason="(\w+)"\} (\S+)', text)
    )
    assert float(values["malformed"]) >= 1


def test_unknown_routes_and_methods_are_4xx(collector: tuple[httpx.Client, Agent, Path]) -> None:
    client, _, _ = collector
    assert client.get("/events").status_code == 405
    assert client.post("/nope", content=b"x").status_code == 404


def _urllib_post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"content-type": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _httpx_post(url: str, body: bytes) -> tuple[int, bytes]:
    r = httpx.post(url, content=body, headers={"content-type": "text/plain"}, timeout=60)
    return r.status_code, r.content


def _requests_post(url: str, body: bytes) -> tuple[int, bytes]:
    r = requests.post(url, data=body, headers={"content-type": "text/plain"}, timeout=60)
    return r.status_code, r.content


def _oversized(
    gate_sink: GateSink, serve: Callable[[Agent], httpx.Client], drain_bytes: int
) -> tuple[str, bytes]:
    limits = Limits(max_body_bytes=2**20, drain_bytes=drain_bytes)
    client = serve(Agent(MemoryChannel(), gate_sink, build_chain([]), limits=limits))
    line = b"x" * 79 + b"\n"
    return f"{client.base_url}/v1/logs", line * (40 * 2**20 // len(line))  # 40 MiB


@pytest.mark.parametrize("post", [_urllib_post, _httpx_post, _requests_post])
def test_a_client_that_writes_its_whole_oversized_body_first_reads_the_413(
    gate_sink: GateSink,
    serve: Callable[[Agent], httpx.Client],
    post: Callable[[str, bytes], tuple[int, bytes]],
) -> None:
    """urllib, httpx and requests write the whole body before they read the answer; the
    collector reads and drops the rest of a refused body (bounded, as nginx lingers), so
    they get the 413 and its message rather than a connection reset."""
    url, body = _oversized(gate_sink, serve, drain_bytes=256 * 2**20)
    status, answer = post(url, body)
    assert status == 413
    assert "over the 1048576-byte limit" in orjson.loads(answer)["error"]
    assert gate_sink.delivered() == []


def test_without_draining_urllib_loses_the_answer(
    gate_sink: GateSink, serve: Callable[[Agent], httpx.Client]
) -> None:
    """Why the collector drains: answered early, urllib is still writing when the
    server closes, and gets ECONNRESET or EPIPE instead of the 413."""
    url, body = _oversized(gate_sink, serve, drain_bytes=0)
    with pytest.raises((ConnectionError, urllib.error.URLError)) as caught:
        _urllib_post(url, body)
    text = str(caught.value).lower()
    assert "reset" in text or "broken pipe" in text, text
