"""OpenTelemetry logs over HTTP (OTLP/HTTP): ``ExportLogsServiceRequest`` -> events.

What the OpenTelemetry SDKs and the OpenTelemetry Collector send to ``POST /v1/logs``,
as ``application/x-protobuf`` (their default) or OTLP JSON (``application/json``). Each
log record becomes one Flume event:

* body: the record's body; a string as is, a map or list as JSON (which the log parser
  reads as a JSON line), a number or bool as its text;
* headers: the query parameters, then the resource's attributes, then the record's own
  (the most specific wins), values as text; ``service.name`` also gives ``service``;
  ``timeUnixNano`` (else ``observedTimeUnixNano``) gives ``timestamp`` in epoch ms, as
  Flume's; ``severityText`` gives ``severity``. An ``id`` attribute is left out: the
  collector gives each event its own id, which de-duplication relies on.

A record without a body, or with more or larger attributes than an event may carry, is
rejected alone and reported in the response's ``partialSuccess``, as OTLP prescribes;
the others are accepted. Answers, errors included (as ``google.rpc.Status``), use the
request's encoding.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from squall.ingest.event import Event
from squall.ingest.exceptions import BadRequest, PayloadTooLarge
from squall.ingest.source.formats import OTLP_MEDIA, Limits

__all__ = ["OTLP_MEDIA", "OtlpBatch", "otlp_error", "otlp_reply", "parse_otlp"]

PROTOBUF = "application/x-protobuf"

# HTTP status -> google.rpc.Code, for the Status body of an error answer
_GRPC_CODE = {400: 3, 401: 16, 413: 8, 415: 3, 429: 8, 503: 14}


@dataclass(slots=True)
class OtlpBatch:
    """The events of one export request, and the records refused one by one."""

    events: list[Event] = field(default_factory=list)
    rejected: int = 0
    reason: str = ""


def parse_otlp(body: bytes, media: str, base: dict[str, str], limits: Limits) -> OtlpBatch:
    """Decode and map an export request; ``BadRequest`` if it is not one at all."""
    request = ExportLogsServiceRequest()
    try:
        if media == PROTOBUF:
            request.ParseFromString(body)
        else:
            json_format.Parse(body, request, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError) as exc:
        kind = "protobuf" if media == PROTOBUF else "OTLP JSON"
        raise BadRequest(
            f"body is not an OTLP ExportLogsServiceRequest in {kind} ({exc}); "
            "raw log lines go to /v1/logs as text/plain, Flume JSON events to /events"
        ) from exc
    total = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    if total > limits.max_events:
        raise PayloadTooLarge(
            f"request has {total} log records, at most {limits.max_events} are allowed per "
            "request; lower the exporter's batch size (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE)"
        )
    batch = OtlpBatch()
    for resource_logs in request.resource_logs:
        resource = dict(base)
        _attributes(resource_logs.resource.attributes, resource)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                event = _event(record, resource, limits)
                if isinstance(event, str):
                    batch.rejected += 1
                    batch.reason = batch.reason or event
                else:
                    batch.events.append(event)
    if not batch.events and not batch.rejected:
        raise BadRequest("the export request holds no log records; send at least one")
    return batch


def _event(record: LogRecord, resource: dict[str, str], limits: Limits) -> Event | str:
    """One log record -> an event, or the reason it cannot be one."""
    body = _text(record.body) if record.HasField("body") else ""
    if not body or body.isspace():
        return "a log record has no body (the log line); it was left out"
    headers = dict(resource)
    _attributes(record.attributes, headers)
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    if nanos:
        headers["timestamp"] = str(nanos // 1_000_000)
    if record.severity_text:
        headers["severity"] = record.severity_text
    size = sum(len(k) + len(v) for k, v in headers.items())
    if len(headers) > limits.max_headers or size > limits.max_header_bytes:
        return (
            f"a log record has {len(headers)} attributes of {size} characters with its "
            f"resource's; an event may carry at most {limits.max_headers} headers of "
            f"{limits.max_header_bytes} characters; it was left out"
        )
    return {"headers": headers, "body": body}


def _attributes(attributes: Iterable[KeyValue], into: dict[str, str]) -> None:
    for kv in attributes:
        if kv.key == "id":
            continue
        value = _text(kv.value)
        into[kv.key] = value
        if kv.key == "service.name":
            into["service"] = value


def _text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    return orjson.dumps(_plain(value)).decode()


def _plain(value: AnyValue) -> object:
    """An ``AnyValue`` as plain JSON data (maps and lists nested)."""
    kind = value.WhichOneof("value")
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [_plain(v) for v in value.array_value.values]
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None if kind is None else getattr(value, kind)


def otlp_reply(batch: OtlpBatch, media: str) -> bytes:
    """The ``ExportLogsServiceResponse`` of an accepted request, in its encoding."""
    response = ExportLogsServiceResponse()
    if batch.rejected:
        response.partial_success.rejected_log_records = batch.rejected
        response.partial_success.error_message = batch.reason
    if media == PROTOBUF:
        return bytes(response.SerializeToString())
    return str(json_format.MessageToJson(response, indent=None)).encode()


def otlp_error(status: int, message: str, media: str) -> bytes:
    """A ``google.rpc.Status`` for an error answer, in the request's encoding."""
    answer = Status(code=_GRPC_CODE.get(status, 2), message=message)
    if media == PROTOBUF:
        return bytes(answer.SerializeToString())
    return str(json_format.MessageToJson(answer, indent=None)).encode()
