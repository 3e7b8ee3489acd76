"""Request bodies -> events: Flume's JSONHandler format, raw lines, NDJSON.

Every parser validates fully before returning, so a request is accepted whole or
rejected whole; messages number events and lines from 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from squall.ingest.event import Event
from squall.ingest.exceptions import BadRequest, PayloadTooLarge

__all__ = [
    "OTLP_MEDIA",
    "Limits",
    "check_headers",
    "parse_flume_json",
    "parse_lines",
    "parse_ndjson",
]

OTLP_MEDIA = frozenset({"application/x-protobuf", "application/json"})
"""Content types that make a ``/v1/logs`` request OpenTelemetry logs (source.otlp)."""

_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def _kind(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class Limits:
    """Per-request limits; exceeding one is a 413 (sizes) or 400 (header shape)."""

    max_body_bytes: int = 16 * 2**20
    max_decompressed_bytes: int = 64 * 2**20
    drain_bytes: int = 256 * 2**20
    """After refusing a body as too large, read and drop up to this much of it (and for
    at most ``drain_seconds``) before answering, as nginx lingers: a client that writes
    its whole body before reading then gets the 413 instead of a connection reset."""
    drain_seconds: float = 30.0
    max_events: int = 10_000
    max_headers: int = 64
    max_header_bytes: int = 8192


def check_headers(headers: dict[str, str], limits: Limits, where: str) -> None:
    """Header count and total size of one event (or of the query parameters)."""
    if len(headers) > limits.max_headers:
        raise BadRequest(
            f"{where}: {len(headers)} headers, at most {limits.max_headers} are allowed"
        )
    size = sum(len(k) + len(v) for k, v in headers.items())
    if size > limits.max_header_bytes:
        raise BadRequest(
            f"{where}: headers total {size} characters, at most "
            f"{limits.max_header_bytes} are allowed"
        )


def _too_many(n: int, limits: Limits) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request has {n} events, at most {limits.max_events} are allowed per request; "
        f"split it into smaller requests"
    )


def parse_flume_json(data: object, limits: Limits) -> list[Event]:
    """Validate a decoded JSONHandler body: ``[{"headers": {...}, "body": "..."}]``."""
    if type(data) is not list:
        raise BadRequest(
            f"body must be a JSON array of events like "
            f'[{{"headers": {{"k": "v"}}, "body": "..."}}], got {_kind(data)}'
        )
    if len(data) > limits.max_events:
        raise _too_many(len(data), limits)
    max_headers, max_bytes = limits.max_headers, limits.max_header_bytes
    events: list[Event] = []
    append = events.append
    for i, ev in enumerate(data, 1):  # hot
        if type(ev) is not dict:
            raise BadRequest(
                f"event {i}: must be an object with 'headers' and 'body', got {_kind(ev)}"
            )
        headers = ev.get("headers")
        body = ev.get("body")
        if len(ev) != ("headers" in ev) + ("body" in ev):
            extra = sorted(set(ev) - {"headers", "body"})
            raise BadRequest(
                f"event {i}: unknown field {extra[0]!r}; an event has only 'headers' and 'body'"
            )
        if headers is None:
            headers = {}
        elif type(headers) is not dict:
            raise BadRequest(
                f"event {i}: 'headers' must be an object of strings, got {_kind(headers)}"
            )
        else:
            size = 0
            for k, v in headers.items():
                if type(v) is not str:
                    raise BadRequest(
                        f"event {i}: header {k!r} value must be a string, got {_kind(v)}"
                    )
                size += len(k) + len(v)
            if len(headers) > max_headers or size > max_bytes:
                check_headers(headers, limits, f"event {i}")
        if body is None:
            body = ""
        elif type(body) is not str:
            raise BadRequest(f"event {i}: 'body' must be a string, got {_kind(body)}")
        append({"headers": headers, "body": body})
    return events


def _split(text: str) -> list[str]:
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text.split("\n")


def parse_lines(text: str, base: dict[str, str], limits: Limits) -> list[Event]:
    """One event per non-empty line; every event starts with the ``base`` headers."""
    lines = [line for line in _split(text) if line and not line.isspace()]
    if not lines:
        raise BadRequest("body has no log lines (only blank lines); send one event per line")
    if len(lines) > limits.max_events:
        raise _too_many(len(lines), limits)
    return [{"headers": base.copy(), "body": line} for line in lines]  # hot


def parse_ndjson(text: str, base: dict[str, str], limits: Limits) -> list[Event]:
    """One event per JSON-object line; the line is the body. A string ``service`` field
    also becomes the ``service`` header (the body's field wins, as in the parser)."""
    events: list[Event] = []
    lines = _split(text)
    for n, line in enumerate(lines, 1):  # hot
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(
                f"line {n}: not valid JSON ({exc}); send one JSON object per line"
            ) from exc
        if type(obj) is not dict:
            raise BadRequest(f"line {n}: must be a JSON object, got {_kind(obj)}")
        headers = base.copy()
        service = obj.get("service")
        if type(service) is str:
            headers["service"] = service
        events.append({"headers": headers, "body": line})
        if len(events) > limits.max_events:
            raise _too_many(sum(1 for x in lines if x.strip()), limits)
    if not events:
        raise BadRequest("body has no JSON lines (only blank lines); send one object per line")
    return events
