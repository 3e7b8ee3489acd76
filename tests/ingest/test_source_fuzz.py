"""Property-based fuzzing of the source: whatever arrives, no 5xx and no crash; and for
JSON documents, 200 exactly when an independent oracle says the document is valid."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from squall.ingest.agent import Agent
from squall.ingest.channels import MemoryChannel
from squall.ingest.sinks import NullSink
from squall.ingest.source import Limits

from .conftest import LiveServer

LIMITS = Limits(
    max_body_bytes=32 * 1024,
    max_decompressed_bytes=64 * 1024,
    max_events=20,
    max_headers=4,
    max_header_bytes=64,
)
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    agent = Agent(
        MemoryChannel(capacity_events=10**9, capacity_bytes=2**40), NullSink(), limits=LIMITS
    )
    with LiveServer(agent.app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        yield c
        assert c.get("/healthz").status_code == 200  # still alive after all of it


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
events = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "headers": st.none()
            | st.dictionaries(st.text(max_size=12), st.text(max_size=24) | json_values, max_size=5),
            "body": st.none() | st.text(max_size=40) | json_values,
            "extra": json_values,
        },
    ),
    max_size=25,
)


def expected_status(doc: Any) -> int:
    """The contract, written independently of the source's code."""
    if isinstance(doc, list) and len(doc) > LIMITS.max_events:
        return 413
    return 200 if valid(doc) else 400


def valid(doc: Any) -> bool:
    if not isinstance(doc, list):
        return False
    for ev in doc:
        if not isinstance(ev, dict) or not set(ev) <= {"headers", "body"}:
            return False
        headers = ev.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            return False
        if len(headers) > LIMITS.max_headers:
            return False
        if sum(len(k) + len(v) for k, v in headers.items()) > LIMITS.max_header_bytes:
            return False
        if ev.get("body") is not None and not isinstance(ev["body"], str):
            return False
    return True


@FUZZ
@given(doc=events | json_values, packed=st.booleans())
def test_json_documents_are_accepted_exactly_when_valid(
    client: httpx.Client, doc: Any, packed: bool
) -> None:
    body = json.dumps(doc).encode()  # json, not orjson: integers beyond 64 bits too
    headers = {"content-type": "application/json"}
    if packed:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    r = client.post("/events", content=body, headers=headers)
    assert r.status_code == expected_status(doc), r.text
    if r.status_code == 200:
        assert r.json() == {"accepted": len(doc)}
    else:
        assert r.json()["error"]


@FUZZ
@given(
    path=st.sampled_from(["/events", "/", "/v1/logs", "/v1/logs?service=x&a=%FF"]),
    content_type=st.sampled_from(
        [
            "",
            "application/json",
            "text/plain",
            "application/x-ndjson",
            "text/plain; charset=utf-16",
            "application/json; charset=utf-32",
            "text/plain; charset=latin-1",
            "application/json; charset=",
            "image/png",
            "application/x-protobuf",
            "application/x-www-form-urlencoded",
            ";;;",
            'text/plain; charset="utf-8"',
        ]
    ),
    encoding=st.sampled_from(["", "gzip", "identity", "deflate", "GZIP"]),
    body=st.binary(max_size=2048) | st.text(max_size=500).map(str.encode),
    compress=st.booleans(),
)
def test_arbitrary_requests_never_get_a_5xx(
    client: httpx.Client,
    path: str,
    content_type: str,
    encoding: str,
    body: bytes,
    compress: bool,
) -> None:
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if encoding:
        headers["content-encoding"] = encoding
    if compress:
        body = gzip.compress(body)
    r = client.post(path, content=body, headers=headers)
    assert r.status_code in (200, 400, 413, 415), (r.status_code, r.text)
    media = content_type.partition(";")[0]
    if path.startswith("/v1/logs") and media == "application/x-protobuf":
        return  # OTLP answers in protobuf (tests/ingest/test_source_otlp.py reads them)
    if path.startswith("/v1/logs") and media == "application/json":
        # OTLP JSON: a google.rpc.Status on error, an ExportLogsServiceResponse on success
        assert r.json()["message"] if r.status_code != 200 else isinstance(r.json(), dict)
        return
    assert r.json()["error" if r.status_code != 200 else "accepted"] is not None
