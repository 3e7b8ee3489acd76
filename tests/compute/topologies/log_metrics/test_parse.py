"""The parser: real combined-log traffic, JSON lines, precedence rules, rejections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from squall.compute.topologies.log_metrics.parse import ParsedEvent, Rejected, parse_event

MS = 1431857103000  # 2015-05-17T10:05:03Z
LINE = (
    '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /users/42?x=1 HTTP/1.1" 200 203023 '
    '"http://semicomplete.com/" "Mozilla/5.0 (Macintosh)"'
)


def _parsed(headers: dict[str, str], body: str) -> ParsedEvent:
    result = parse_event(headers, body)
    assert isinstance(result, ParsedEvent), result
    return result


def _reason(headers: dict[str, str], body: str) -> str:
    result = parse_event(headers, body)
    assert isinstance(result, Rejected), result
    return result.reason


def _json(**fields: Any) -> str:
    return orjson.dumps(fields).decode()


def test_every_apache_log_line_parses_to_its_own_fields(apache_log_lines: list[str]) -> None:
    assert len(apache_log_lines) == 10_000
    for line in apache_log_lines:
        # ground truth by plain splitting, independent of the parser's regex
        head, request = line.split('"')[:2]
        client, _, authuser, day, zone = head.split()[:5]
        when = datetime.strptime(day[1:] + " " + zone[:-1], "%d/%b/%Y:%H:%M:%S %z")
        status, size = line.split('"')[2].split()
        event = _parsed({"service": "site"}, line)
        assert event.time_ms == int(when.timestamp()) * 1000
        assert event.service == "site"
        assert event.method == request.split(" ")[0]
        assert event.status == int(status)
        assert event.bytes == (0 if size == "-" else int(size))
        assert event.latency_ms is None
        assert event.user == (authuser if authuser != "-" else client)
        assert event.route.startswith("/")
        assert "?" not in event.route


def test_combined_log_fields() -> None:
    assert _parsed({}, LINE) == ParsedEvent(
        MS, "unknown", "GET", "/users/:id", 200, 203023, None, "83.149.9.216"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # common log format: no referer or agent
        (
            '10.0.0.1 - frank [17/May/2015:10:05:03 +0000] "POST /login HTTP/1.0" 302 -',
            ParsedEvent(MS, "unknown", "POST", "/login", 302, 0, None, "frank"),
        ),
        # nginx combined, IPv6 client, time zone offset
        (
            '2001:db8::1 - - [17/May/2015:12:05:03 +0200] "delete /items/9 HTTP/2.0" 204 0 '
            '"-" "curl/8.0"',
            ParsedEvent(MS, "unknown", "DELETE", "/items/:id", 204, 0, None, "2001:db8::1"),
        ),
        # request line "-" (a timeout) still counts
        (
            '10.0.0.1 - - [17/May/2015:10:05:03 +0000] "-" 408 0 "-" "-"',
            ParsedEvent(MS, "unknown", "-", "-", 408, 0, None, "10.0.0.1"),
        ),
        # junk method, HTTP/0.9 request line, escaped quote in the target
        (
            '10.0.0.1 - - [17/May/2015:10:05:03 +0000] "\\x16\\x03 /a\\"b" 400 11',
            ParsedEvent(MS, "unknown", "OTHER", '/a\\"b', 400, 11, None, "10.0.0.1"),
        ),
        # truncated user agent (as in one apache_logs line), trailing newline
        (
            '10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozi\r\n',
            ParsedEvent(MS, "unknown", "GET", "/", 200, 5, None, "10.0.0.1"),
        ),
    ],
)
def test_log_line_variants(body: str, expected: ParsedEvent) -> None:
    assert _parsed({}, body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "hello world",
        '10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200',  # no bytes
        '10.0.0.1 - - [17/May/2015:10:05:03] "GET / HTTP/1.1" 200 5',  # no zone
        '10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 20 5',
        '10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5x',
        "[1, 2]",
    ],
)
def test_not_a_log_line(body: str) -> None:
    assert _reason({}, body) == "not a combined/common log line or JSON object"


def test_log_line_bad_date_and_status() -> None:
    line = '10.0.0.1 - - [31/Feb/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5'
    assert "time" in _reason({}, line)
    assert "100 and 599" in _reason({}, line.replace("31/Feb", "17/May").replace("200", "600"))


def test_empty_body() -> None:
    assert _reason({"service": "web"}, "") == "empty body"
    assert _reason({"service": "web"}, "  \n") == "empty body"


# ---------------------------------------------------------------- JSON lines


def test_json_full_record() -> None:
    body = _json(
        ts="2015-05-17T10:05:03Z",
        service="api",
        method="get",
        path="/users/7/cart?x=1",
        status=503,
        bytes=12,
        latency_ms=4,
        user="alice",
        client_ip="10.0.0.1",
    )
    event = _parsed({"service": "other", "timestamp": "1"}, body)
    assert event == ParsedEvent(MS, "api", "GET", "/users/:id/cart", 503, 12, 4.0, "alice")
    assert type(event.latency_ms) is float


def test_json_minimal_record_takes_defaults() -> None:
    event = _parsed({"timestamp": str(MS)}, _json(path="/", status=200))
    assert event == ParsedEvent(MS, "unknown", "-", "/", 200, 0, None, None)


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2015-05-17T12:05:03+02:00", MS),
        ("2015-05-17T10:05:03.999Z", MS + 999),
        ("2015-05-17T10:05:03", MS),
        (MS // 1000, MS),  # epoch seconds
        (MS / 1000 + 0.5, MS + 500),  # fractional seconds
        (MS, MS),  # epoch milliseconds
        (str(MS), MS),  # digits in a string
        (str(MS // 1000), MS),
    ],
)
def test_json_times(ts: object, expected: int) -> None:
    event = _parsed({"timestamp": "1000"}, _json(ts=ts, path="/", status=200))
    assert event.time_ms == expected


@pytest.mark.parametrize(
    ("fields", "field", "expected"),
    [
        ({"status": "200"}, "status", "an integer (got str)"),
        ({"status": True}, "status", "an integer (got bool)"),
        ({"status": 200.0}, "status", "an integer (got float)"),
        ({"status": None}, "status", "an integer (missing)"),
        ({"path": 5}, "path", "a string (got int)"),
        ({"path": None}, "path", "a string (missing)"),
        ({"method": ["GET"]}, "method", "a string (got list)"),
        ({"service": 7}, "service", "a string (got int)"),
        ({"bytes": -1}, "bytes", "a non-negative integer (got int)"),
        ({"bytes": "12"}, "bytes", "a non-negative integer (got str)"),
        ({"bytes": 1.5}, "bytes", "a non-negative integer (got float)"),
        ({"latency_ms": "fast"}, "latency_ms", "a number (got str)"),
        ({"latency_ms": False}, "latency_ms", "a number (got bool)"),
        ({"latency_ms": -0.5}, "latency_ms", "a non-negative number (got float)"),
        ({"user": 5}, "user", "a string (got int)"),
        ({"client_ip": 5}, "client_ip", "a string (got int)"),
    ],
)
def test_json_wrong_types(fields: dict[str, Any], field: str, expected: str) -> None:
    record = {"ts": MS, "path": "/", "status": 200, **fields}
    if record["status"] is None:
        del record["status"]
    if record["path"] is None:
        del record["path"]
    assert _reason({}, _json(**record)) == f"JSON field {field!r} must be {expected}"


@pytest.mark.parametrize("ts", ["yesterday", [], {"s": 1}, True, -5, 1e30, "10000-01-01T00:00:00"])
def test_json_bad_time(ts: object) -> None:
    reason = _reason({"timestamp": str(MS)}, _json(ts=ts, path="/", status=200))
    assert reason.startswith("JSON field 'ts' must be an ISO-8601 date-time or epoch number")


def test_json_status_range_and_syntax() -> None:
    assert "100 and 599" in _reason({}, _json(ts=MS, path="/", status=99))
    assert "100 and 599" in _reason({}, _json(ts=MS, path="/", status=600))
    assert _reason({}, '{"status": 200,').startswith("body starts with '{' but is not valid JSON")


def test_json_user_falls_back_to_client_ip() -> None:
    for user in (None, "", "-"):
        record = {"ts": MS, "path": "/", "status": 200, "user": user, "client_ip": "10.1.1.1"}
        assert _parsed({}, _json(**record)).user == "10.1.1.1"


# ---------------------------------------------------------------- header vs body


def test_service_precedence() -> None:
    header = {"service": "from-header"}
    assert _parsed(header, LINE).service == "from-header"  # log lines carry none
    assert _parsed({}, LINE).service == "unknown"
    assert _parsed({"service": ""}, LINE).service == "unknown"
    record = {"ts": MS, "path": "/", "status": 200}
    assert _parsed(header, _json(**record, service="from-body")).service == "from-body"
    assert _parsed(header, _json(**record)).service == "from-header"
    assert _parsed(header, _json(**record, service="")).service == "from-header"
    assert _parsed({}, _json(**record, service=None)).service == "unknown"


def test_time_precedence() -> None:
    header = {"timestamp": str(MS + 60_000)}
    assert _parsed(header, LINE).time_ms == MS  # the line's own time wins
    record = {"path": "/", "status": 200}
    assert _parsed(header, _json(**record, ts=MS)).time_ms == MS
    assert _parsed(header, _json(**record, timestamp=MS)).time_ms == MS  # same-name field
    assert _parsed(header, _json(**record)).time_ms == MS + 60_000
    # the header is epoch ms as Flume sends it, but seconds are recognised too
    assert _parsed({"timestamp": str(MS // 1000)}, _json(**record)).time_ms == MS
    # a broken header does not matter when the body has a time ...
    assert _parsed({"timestamp": "soon"}, _json(**record, ts=MS)).time_ms == MS
    # ... and is a clear reason when it does not
    assert "'timestamp' header is not an epoch number" in _reason(
        {"timestamp": "soon"}, _json(**record)
    )
    assert _reason({}, _json(**record)) == (
        "no event time: the body has no 'ts' and the event no 'timestamp' header"
    )


def test_parsed_event_is_a_plain_tuple_for_emitting() -> None:
    event = _parsed({}, LINE)
    assert isinstance(event, tuple)
    assert ParsedEvent._fields == (
        "time_ms",
        "service",
        "method",
        "route",
        "status",
        "bytes",
        "latency_ms",
        "user",
    )
