"""The parser under arbitrary and mutated input: it never raises, and what it accepts is
well-formed, so bad input can only ever become a dead letter with a reason."""

from __future__ import annotations

import json

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
