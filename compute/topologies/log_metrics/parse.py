"""Parse a Flume event into the fields the log-metrics aggregation needs.

Bodies understood (../shared/design.md, "Log event bodies the parser must understand"):

* Apache/Nginx combined and common log format
  ``1.2.3.4 - frank [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 123 "ref" "agent"``
  (anything after the byte count is ignored, so truncated agents still parse);
* a JSON object ``{"ts", "service", "method", "path", "status", "bytes", "latency_ms",
  "user", "client_ip"}``: ``status`` (int, 100-599) and ``path`` (string) are required,
  the rest optional (``timestamp`` is accepted for ``ts``).

Precedence: a body field wins over the event header of the same name; the header is the
default (``service`` header, ``timestamp`` header in epoch ms as Flume sets it); no
service at all -> ``unknown``. An event with no time in the body or header is rejected
rather than stamped with the processing time, so a replay gives the same rows.

Normalisation: methods are upper-cased and anything outside the HTTP/WebDAV set becomes
``OTHER`` (scanners send junk methods, each would be a dimension value); a request line
that is not ``METHOD TARGET [PROTOCOL]`` (``"-"``, as servers log for timeouts) gives
method and route ``-``; ``-`` bytes are 0; ``user`` is the log's authuser (or JSON
``user``), else the client ip, else ``None``; latency is float milliseconds or ``None``
(the log formats carry none).

``parse_event`` never raises on input: anything else yields ``Rejected(reason)``, whose
reason goes to ``logs.deadletter``. Reasons name the problem and the expected form, but
not the offending value, so they can be counted by reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from squall.compute.topologies.log_metrics.eventtime import clf_to_ms, epoch_to_ms, iso_to_ms
from squall.compute.topologies.log_metrics.route import template_route

__all__ = ["UNKNOWN_SERVICE", "ParsedEvent", "Rejected", "parse_event"]

UNKNOWN_SERVICE = "unknown"


class ParsedEvent(NamedTuple):
    """One parsed event; a tuple, so a bolt can emit it as its values directly."""

    time_ms: int
    """Event time, epoch milliseconds UTC."""
    service: str
    method: str
    route: str
    status: int
    bytes: int
    latency_ms: float | None
    user: str | None
    """What ``users_sketch`` counts: the user, else the client ip."""


class Rejected(NamedTuple):
    """An event the parser cannot use; ``reason`` goes to ``logs.deadletter``."""

    reason: str


# The whole line shape in one precompiled pattern; groups: client, authuser, time,
# request (backslash escapes allowed, as Apache writes them), status, bytes.
_CLF = re.compile(
    r"(\S+) \S+ (\S+) \[(\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "
    r'"([^"\\]*(?:\\.[^"\\]*)*)" (\d{3}) (\d+|-)(?:\s|$)'
)
_METHODS = {
    m: m
    for m in [
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "CONNECT",
        "OPTIONS",
        "TRACE",
        "PATCH",
        "PURGE",
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "COPY",
        "MOVE",
        "LOCK",
        "UNLOCK",
        "REPORT",
        "SEARCH",
    ]
}
_OTHER_METHOD = "OTHER"
_NONE = "-"

NOT_A_LOG_LINE = "not a combined/common log line or JSON object"
EMPTY_BODY = "empty body"
BAD_LOG_TIME = "log line time is not a real date in 1970-9999"
BAD_STATUS = "status must be between 100 and 599"
NO_TIME = "no event time: the body has no 'ts' and the event no 'timestamp' header"
BAD_HEADER_TIME = "no event time in the body, and the 'timestamp' header is not an epoch number"
BAD_JSON_TIME = (
    "JSON field 'ts' must be an ISO-8601 date-time or epoch number in 1970-9999 "
    "(seconds or milliseconds)"
)


def parse_event(headers: Mapping[str, str], body: str) -> ParsedEvent | Rejected:
    """Flume event -> ``ParsedEvent``, or ``Rejected`` with the reason. Hot path."""
    body = body.strip()
    if not body:
        return Rejected(EMPTY_BODY)
    if body[0] == "{":
        return _parse_json(headers, body)
    match = _CLF.match(body)
    if match is None:
        return Rejected(NOT_A_LOG_LINE)
    client, authuser, when, request, status_text, size = match.groups()
    time_ms = clf_to_ms(when)
    if time_ms is None:
        return Rejected(BAD_LOG_TIME)
    status = int(status_text)
    if not 100 <= status <= 599:
        return Rejected(BAD_STATUS)
    method, _, rest = request.partition(" ")
    if rest:
        target, _, protocol = rest.rpartition(" ")
        if not protocol.startswith("HTTP/"):
            target = rest
        method = _METHODS.get(method) or _METHODS.get(method.upper(), _OTHER_METHOD)
        route = template_route(target)
    else:
        method = route = _NONE
    return ParsedEvent(
        time_ms,
        headers.get("service") or UNKNOWN_SERVICE,
        method,
        route,
        status,
        0 if size == _NONE else int(size),
        None,
        authuser if authuser != _NONE else client,
    )


def _parse_json(headers: Mapping[str, str], body: str) -> ParsedEvent | Rejected:
    try:
        record = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return Rejected(f"body starts with '{{' but is not valid JSON: {exc}")
    if type(record) is not dict:
        return Rejected(NOT_A_LOG_LINE)
    get = record.get

    status = get("status")
    if type(status) is not int:
        return Rejected(_wrong("status", "an integer", status))
    if not 100 <= status <= 599:
        return Rejected(f"JSON field {BAD_STATUS}")
    path = get("path")
    if type(path) is not str:
        return Rejected(_wrong("path", "a string", path))

    method = get("method")
    if method is None:
        method = _NONE
    elif type(method) is str:
        method = _METHODS.get(method) or _METHODS.get(method.upper(), _OTHER_METHOD)
    else:
        return Rejected(_wrong("method", "a string", method))

    service = get("service")
    if service is None or service == "":
        service = headers.get("service") or UNKNOWN_SERVICE
    elif type(service) is not str:
        return Rejected(_wrong("service", "a string", service))

    size = get("bytes")
    if size is None:
        size = 0
    elif type(size) is not int or size < 0:
        return Rejected(_wrong("bytes", "a non-negative integer", size))

    latency = get("latency_ms")
    if latency is not None:
        if type(latency) is int:
            latency = float(latency)
        elif type(latency) is not float:
            return Rejected(_wrong("latency_ms", "a number", latency))
        if not latency >= 0.0:
            return Rejected(_wrong("latency_ms", "a non-negative number", latency))

    user = get("user")
    if user is None or user == "" or user == _NONE:
        user = get("client_ip")
        if user is not None and type(user) is not str:
            return Rejected(_wrong("client_ip", "a string", user))
        user = user or None
    elif type(user) is not str:
        return Rejected(_wrong("user", "a string", user))

    when = get("ts")
    if when is None:
        when = get("timestamp")
    if when is None:
        header_time = _header_time(headers)
        if isinstance(header_time, str):
            return Rejected(header_time)
        time_ms = header_time
    else:
        body_time = _json_time(when)
        if body_time is None:
            return Rejected(BAD_JSON_TIME)
        time_ms = body_time

    return ParsedEvent(
        time_ms,
        service,
        method,
        template_route(path),
        status,
        size,
        latency,
        user,
    )


def _json_time(value: Any) -> int | None:
    kind = type(value)
    if kind is int or kind is float:
        return epoch_to_ms(value)
    if kind is str:
        if value.isdigit():
            return epoch_to_ms(int(value))
        return iso_to_ms(value)
    return None


def _header_time(headers: Mapping[str, str]) -> int | str:
    """The ``timestamp`` header as epoch ms, or the rejection reason."""
    text = headers.get("timestamp")
    if not text:
        return NO_TIME
    try:
        number = int(text) if text.isdigit() else float(text)
    except ValueError:
        return BAD_HEADER_TIME
    time_ms = epoch_to_ms(number)
    return BAD_HEADER_TIME if time_ms is None else time_ms


def _wrong(field: str, expected: str, value: Any) -> str:
    got = "missing" if value is None else f"got {type(value).__name__}"
    return f"JSON field {field!r} must be {expected} ({got})"
