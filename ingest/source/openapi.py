"""The collector's OpenAPI description (``GET /openapi.json``).

The endpoints read their bodies themselves (Flume JSON, raw lines, NDJSON, OTLP), so
FastAPI cannot infer them; these are the request bodies and answers as design.md's
collector contract gives them, for clients and for the schema-driven tests
(tests/ingest/test_openapi.py) that send what the spec allows and check every answer
against it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EVENTS", "HEALTHZ", "LOGS", "METRICS"]

_ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
}
_ACCEPTED = {
    "type": "object",
    "required": ["accepted"],
    "properties": {"accepted": {"type": "integer", "minimum": 0}},
}
_FLUME = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "body": {"type": "string"},
        },
    },
}
_TEXT = {"type": "string"}
_NDJSON = {
    "type": "array",
    "description": (
        "NDJSON: each item is one line, a JSON object. Any object is accepted: the "
        "topology reads design.md's fields (ts, service, method, path, status, bytes, "
        "latency_ms, user, client_ip) and dead-letters lines it cannot use, with the reason"
    ),
    "items": {"type": "object"},
}
_BINARY = {"type": "string", "format": "binary"}
_OTLP_JSON = {"type": "object", "description": "OTLP ExportLogsServiceRequest (JSON)"}
_RETRY = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
_AUTH_HEADER = {"WWW-Authenticate": {"schema": {"type": "string"}}}


def _answers(ok: dict[str, Any], errors: dict[str, Any]) -> dict[str, Any]:
    def error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        extra = {"headers": headers} if headers else {}
        return {"description": description, "content": errors, **extra}

    return {
        "200": {"description": "every event is durable in the channel", "content": ok},
        "400": error("malformed: the message says what and where"),
        "401": error("missing or invalid bearer token", _AUTH_HEADER),
        "413": error("body or decompressed body too large"),
        "415": error("unsupported media type or content encoding"),
        "503": error("the channel is full (backpressure): retry after Retry-After", _RETRY),
    }


EVENTS: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Flume JSONHandler events; any text type is read as JSON too",
        "content": {"application/json": {"schema": _FLUME}, "text/plain": {"schema": _TEXT}},
    },
    "responses": _answers(
        {"application/json": {"schema": _ACCEPTED}}, {"application/json": {"schema": _ERROR}}
    ),
}
"""``POST /events`` and ``POST /``."""

LOGS: dict[str, Any] = {
    "parameters": [
        {
            "name": "service",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "the service of lines that carry none (any parameter: a header)",
        }
    ],
    "requestBody": {
        "required": True,
        "description": "raw lines, NDJSON, or OTLP logs (protobuf or JSON)",
        "content": {
            "text/plain": {"schema": _TEXT},
            "application/x-ndjson": {"schema": _NDJSON},
            "application/x-protobuf": {"schema": _BINARY},
            "application/json": {"schema": _OTLP_JSON},
        },
    },
    "responses": _answers(
        {
            "application/json": {"schema": {"type": "object"}},  # accepted, or OTLP's reply
            "application/x-protobuf": {"schema": _BINARY},
        },
        {
            "application/json": {"schema": {"type": "object"}},  # error, or google.rpc.Status
            "application/x-protobuf": {"schema": _BINARY},
        },
    ),
}
"""``POST /v1/logs``; OTLP requests are answered in their own encoding."""

HEALTHZ: dict[str, Any] = {
    "responses": {
        "200": {
            "description": "liveness, channel and sink state",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
}

METRICS: dict[str, Any] = {
    "responses": {
        "200": {
            "description": "Prometheus text",
            "content": {"text/plain": {"schema": _TEXT}},
        }
    }
}
