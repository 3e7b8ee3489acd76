"""OpenTelemetry logs (OTLP/HTTP) at /v1/logs, from the OpenTelemetry SDK's own exporter
and from hand-made requests: records become events, partial success, errors as Status."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.sdk._logs import Logger, LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from squall.ingest.agent import Agent
from squall.ingest.channels import FileChannel
from squall.ingest.interceptors import build_chain

from .conftest import GateSink, wait_for

CHAIN = [{"type": "timestamp"}, {"type": "host"}, {"type": "uuid"}]
PROTOBUF = {"content-type": "application/x-protobuf"}


@pytest.fixture
def agent(tmp_path: Path, gate_sink: GateSink) -> Agent:
    return Agent(FileChannel(tmp_path / "ch"), gate_sink, build_chain(CHAIN))


@pytest.fixture
def otel_logger(
    agent: Agent, serve: Callable[[Agent], httpx.Client]
) -> Iterator[tuple[Logger, LoggerProvider]]:
    """An OpenTelemetry SDK logger whose records its OTLP/HTTP exporter sends to the
    collector, batched as applications send them."""
    client = serve(agent)
    provider = LoggerProvider(resource=Resource.create({"service.name": "checkout"}))
    exporter = OTLPLogExporter(endpoint=f"{client.base_url}/v1/logs", timeout=30)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, max_export_batch_size=200))
    try:
        yield provider.get_logger("squall-test"), provider
    finally:
        provider.shutdown()


def _nanos(line: str) -> int:
    stamp = line.split("[", 1)[1].split("]", 1)[0]
    return int(datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp()) * 10**9


def test_the_opentelemetry_sdk_exporter_delivers_every_line(
    otel_logger: tuple[Logger, LoggerProvider],
    gate_sink: GateSink,
    apache_log_lines: list[str],
) -> None:
    logger, provider = otel_logger
    lines = apache_log_lines[:1500]
    for line in lines:
        logger.emit(
            body=line,
            timestamp=_nanos(line),
            severity_text="INFO",
            severity_number=SeverityNumber.INFO,
            attributes={"http.route": "/x", "attempt": 1},
        )
    assert provider.force_flush(30_000)
    wait_for(lambda: len(gate_sink.delivered()) >= len(lines), what="every line at the sink")
    out = gate_sink.delivered()
    assert [e["body"] for e in out] == lines  # in order, exactly once, unchanged
    assert [int(e["headers"]["timestamp"]) for e in out] == [_nanos(x) // 10**6 for x in lines]
    headers = out[0]["headers"]
    assert headers["service"] == headers["service.name"] == "checkout"
    assert (headers["http.route"], headers["attempt"], headers["severity"]) == ("/x", "1", "INFO")
    assert len({e["headers"]["id"] for e in out}) == len(lines)


def _request(*records: dict[str, Any], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    attrs = [{"key": k, "value": v} for k, v in (resource or {}).items()]
    return {
        "resourceLogs": [
            {"resource": {"attributes": attrs}, "scopeLogs": [{"logRecords": list(records)}]}
        ]
    }


def test_otlp_json_bodies_attributes_and_partial_success(
    agent: Agent, gate_sink: GateSink, serve: Callable[[Agent], httpx.Client]
) -> None:
    client = serve(agent)
    request = _request(
        {"timeUnixNano": "1431857103000000000", "body": {"stringValue": "a line"}},
        {
            "observedTimeUnixNano": "1431857104500000000",
            "body": {"kvlistValue": {"values": [{"key": "status", "value": {"intValue": "503"}}]}},
            "attributes": [
                {"key": "retry", "value": {"boolValue": True}},
                {"key": "id", "value": {"stringValue": "not-unique"}},
            ],
        },
        {"timeUnixNano": "1431857105000000000"},  # no body: left out, reported
        resource={"service.name": {"stringValue": "api"}, "pod": {"intValue": "7"}},
    )
    r = client.post("/v1/logs?env=prod", json=request)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "partialSuccess": {
            "rejectedLogRecords": "1",
            "errorMessage": "a log record has no body (the log line); it was left out",
        }
    }
    wait_for(lambda: len(gate_sink.delivered()) >= 2, what="two events at the sink")
    first, second = gate_sink.delivered()
    assert first["body"] == "a line"
    assert orjson.loads(second["body"]) == {"status": 503}  # a map becomes a JSON line
    assert first["headers"]["timestamp"] == "1431857103000"
    assert second["headers"]["timestamp"] == "1431857104500"  # observed time if no time
    for event in (first, second):
        assert (event["headers"]["service"], event["headers"]["env"]) == ("api", "prod")
        assert event["headers"]["pod"] == "7"
    assert second["headers"]["retry"] == "true"
    assert first["headers"]["id"] != second["headers"]["id"] != "not-unique"


def test_otlp_protobuf_gzip_and_the_protobuf_answer(
    agent: Agent, gate_sink: GateSink, serve: Callable[[Agent], httpx.Client]
) -> None:
    client = serve(agent)
    message = ExportLogsServiceRequest()
    scope = message.resource_logs.add().scope_logs.add()
    for i in range(300):
        record = scope.log_records.add()
        record.body.string_value = f"line {i}"
        record.time_unix_nano = 1431857103000000000 + i * 1_000_000
    body = gzip.compress(message.SerializeToString())
    r = client.post("/v1/logs", content=body, headers={**PROTOBUF, "content-encoding": "gzip"})
    assert r.status_code == 200, r.text
    answer = ExportLogsServiceResponse.FromString(r.content)
    assert not answer.HasField("partial_success")
    wait_for(lambda: len(gate_sink.delivered()) >= 300, what="300 events at the sink")
    out = gate_sink.delivered()
    assert [e["body"] for e in out] == [f"line {i}" for i in range(300)]
    assert out[-1]["headers"]["timestamp"] == str(1431857103000 + 299)


def test_errors_are_a_status_in_the_requests_encoding(
    agent: Agent, gate_sink: GateSink, serve: Callable[[Agent], httpx.Client]
) -> None:
    client = serve(agent)
    r = client.post("/v1/logs", content=b"\xff\x00not protobuf", headers=PROTOBUF)
    assert r.status_code == 400
    status = Status.FromString(r.content)
    assert status.code == 3 and "not an OTLP ExportLogsServiceRequest" in status.message
    r = client.post("/v1/logs", json={"resourceLogs": []})
    assert r.status_code == 400
    assert r.json() == {"code": 3, "message": r.json()["message"]}
    assert "holds no log records" in r.json()["message"]
    assert gate_sink.delivered() == []
