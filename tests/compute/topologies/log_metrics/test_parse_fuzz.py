"""The parser under arbitrary and mutated input: it never raises, and what it accepts is
well-formed, so bad input can only ever become a dead letter with a reason."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from squall.compute.topologies.log_metrics.eventtime import MAX_MS
from squall.compute.topologies.log_metrics.parse import ParsedEvent, Rejected, parse_event

LINE = (
    '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /users/42?x=1 HTTP/1.1" 200 203023 '
    '"http://semicomplete.com/" "Mozilla/5.0 (Macintosh)"'
)
COMMON = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
JSON = orjson.dumps(
    {"ts": "2026-01-01T00:00:00Z", "service": "api", "method": "GET", "path": "/a", "status": 200}
).decode()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
headers = st.dictionaries(
    st.sampled_from(["service", "timestamp", "host", "x"]), st.text(max_size=30), max_size=4
)


def _checked(result: ParsedEvent | Rejected) -> None:
    if isinstance(result, Rejected):
        assert isinstance(result.reason, str) and result.reason
        return
    assert isinstance(result, ParsedEvent)
    assert type(result.time_ms) is int
    assert 100 <= result.status <= 599
    assert type(result.bytes) is int and result.bytes >= 0
    assert result.latency_ms is None or result.latency_ms >= 0
    for text in (result.service, result.method, result.route):
        assert isinstance(text, str) and text


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real line with a few characters replaced, deleted or inserted."""
    text = list(draw(st.sampled_from([LINE, COMMON, JSON])))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["replace", "delete", "insert"]))
        char = draw(st.characters())
        if op == "insert" or at == len(text):
            text.insert(at, char)
        elif op == "delete":
            del text[at]
        else:
            text[at] = char
    return "".join(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers=headers, body=st.text(max_size=300) | mutated())
def test_any_text_parses_or_is_rejected_with_a_reason(headers: dict[str, str], body: str) -> None:
    _checked(parse_event(headers, body))


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["ts", "service", "method", "path", "status", "bytes", "latency_ms", "user", "x"]
        ),
        json_values,
    )
)
def test_json_lines_with_any_field_types_parse_or_are_rejected(fields: dict[str, object]) -> None:
    _checked(parse_event({}, json.dumps(fields)))  # stdlib: big ints, NaN as they come


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _expected_ms(
    day: int, month: str, year: int, hms: tuple[int, int, int], zone: str
) -> int | None:
    """The line's time in epoch ms, computed apart from the parser; None if no real time."""
    if month not in MONTHS or int(zone[3:]) >= 60 or hms[2] > 59:
        return None
    try:
        local = datetime(year, MONTHS.index(month) + 1, day, *hms)
    except ValueError:
        return None
    offset = (int(zone[1:3]) * 60 + int(zone[3:])) * (-1 if zone[0] == "-" else 1)
    ms = (local - datetime(1970, 1, 1)) // timedelta(milliseconds=1) - offset * 60_000
    return ms if 0 <= ms < MAX_MS - 60_000 else None


@settings(max_examples=200, deadline=None)
@given(
    day=st.integers(0, 99),
    month=st.sampled_from(MONTHS) | st.text("JFMASONDaeprnulgcotvy", min_size=3, max_size=3),
    year=st.integers(0, 9999),
    hms=st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 59)),
    zone=st.builds(lambda sign, n: f"{sign}{n:04d}", st.sampled_from("+-"), st.integers(0, 9999)),
    method=st.text("GETPOSHDLAX-", min_size=1, max_size=8),
    path=st.text(st.characters(blacklist_characters=' "\n\r'), min_size=1, max_size=40),
    status=st.integers(0, 999),
    size=st.integers(0, 10**25).map(str) | st.just("-"),
    user=st.sampled_from(["-", "frank", "<b>x</b>"]),
    agent=st.text(st.characters(blacklist_characters='"\n\r'), max_size=40),
    common=st.booleans(),
)
def test_combined_and_common_lines_of_any_field_values(
    day: int,
    month: str,
    year: int,
    hms: tuple[int, int, int],
    zone: str,
    method: str,
    path: str,
    status: int,
    size: str,
    user: str,
    agent: str,
    common: bool,
) -> None:
    """Well-shaped lines with every field drawn at random, dates at years 0-9999 and
    offsets up to +-9999 included: parsed with the right time, or rejected with a reason."""
    stamp = f"{day:02d}/{month}/{year:04d}:{hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d} {zone}"
    line = f'10.1.2.3 - {user} [{stamp}] "{method} {path} HTTP/1.1" {status:03d} {size}'
    if not common:
        line += f' "-" "{agent}"'
    result = parse_event({"service": "web"}, line)
    _checked(result)
    want = _expected_ms(day, month, year, hms, zone)
    if want is None or not 100 <= status <= 599:
        assert isinstance(result, Rejected)
    else:
        assert isinstance(result, ParsedEvent), result
        assert result.time_ms == want
        assert result.status == status
        assert result.service == "web"
