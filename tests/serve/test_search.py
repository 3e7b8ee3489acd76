"""``POST /api/v1/search`` on the DuckDB event store: every matching line, newest first,
paged to the end, equals the input filtered by the same condition (ground truth computed
here from tests/data/apache_logs, independently of the stores); clear 400s; retention.

The events reach the store as the pipeline sends them: parsed and encoded by the
log-metrics topology's encoder, decoded by the event loader's decoder.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from squall.compute.topologies.log_metrics.events import EventEncoder
from squall.compute.topologies.log_metrics.parse import ParsedEvent, parse_event
from squall.serve.app import create_app
from squall.serve.event_loader import decode_events
from squall.serve.search import EventRow, SearchQuery
from squall.serve.store import Store, open_store

CLF = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) (\d+|-)')
ALL_TIME = "2015-01-01T00:00:00Z/2030-01-01T00:00:00Z"


class Line:
    """One input line and what the test itself reads from it (not via the parser)."""

    def __init__(self, text: str, service: str, event_id: str) -> None:
        m = CLF.match(text)
        assert m, text
        self.text, self.service, self.id = text, service, event_id
        self.time_ms = int(datetime.strptime(m[2], "%d/%b/%Y:%H:%M:%S %z").timestamp() * 1000)
        self.method, self.status = m[3], int(m[5])


def encode(lines: list[Line]) -> list[EventRow]:
    """The events as the topology sends them and the loader decodes them."""
    encoder = EventEncoder()
    for line in lines:
        headers = {"service": line.service, "host": "collector-1", "id": line.id}
        parsed = parse_event(headers, line.text)
        assert isinstance(parsed, ParsedEvent), line.text
        encoder.add(parsed, headers, line.id, line.text)
    rows: list[EventRow] = []
    for _key, value in encoder.drain():
        decoded, bad = decode_events(value)
        assert bad == 0
        rows.extend(decoded)
    return rows


@pytest.fixture(scope="module")
def lines(apache_log_lines: list[str]) -> list[Line]:
    rng = random.Random(5)
    # ids in random order, so the order within one second is the ids', not the input's
    return [
        Line(text, rng.choice(("web", "api")), str(uuid.UUID(int=rng.getrandbits(128))))
        for text in apache_log_lines
    ]


@pytest.fixture(scope="module")
def store(lines: list[Line]) -> Iterator[Store]:
    s = open_store("duckdb://:memory:")
    assert s.events is not None
    rows = encode(lines)
    for i in range(0, len(rows), 3000):  # several loads, offsets moving on
        s.events.write_with_offsets(rows[i : i + 3000], "logs.events", {0: i + 3000})
    yield s
    s.close()


@pytest.fixture(scope="module")
def search_client(store: Store, serve_http: Callable[[object], Any]) -> Iterator[httpx.Client]:
    with serve_http(create_app(store)) as client:
        yield client


def _iso_ms(value: str) -> int:
    return int(datetime.fromisoformat(value).astimezone(UTC).timestamp() * 1000)


Condition = Callable[[Line], bool]


def search_all(client: httpx.Client, body: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Every page of a search, following ``next`` to the end."""
    out: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        page = {**body, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.post("/api/v1/search", json=page)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert len(answer["events"]) <= limit
        out.extend(answer["events"])
        cursor = answer["next"]
        if cursor is None:
            return out
    raise AssertionError("paging did not end")


CASES: list[tuple[str, dict[str, Any], Condition]] = [
    ("everything", {}, lambda line: True),
    (
        "4xx/5xx lines of web mentioning firefox (any case)",
        {"filter": {"service": "web", "status_class": ["4xx", "5xx"]}, "contains": "FireFox"},
        lambda line: (
            line.service == "web" and line.status >= 400 and "firefox" in line.text.lower()
        ),
    ),
    (
        "a regex over the line, one day, status 200 or 304",
        {
            "interval": "2015-05-18T00:00:00Z/2015-05-19T00:00:00Z",
            "filter": {"status": [200, "304"]},
            "regex": r"GET /images/\S+\.png",
        },
        lambda line: (
            _iso_ms("2015-05-18T00:00:00+00:00")
            <= line.time_ms
            < _iso_ms("2015-05-19T00:00:00+00:00")
            and line.status in (200, 304)
            and re.search(r"GET /images/\S+\.png", line.text) is not None
        ),
    ),
    (
        "a method and a status that is not a number",
        {"filter": {"method": "HEAD", "status": ["200", "x"]}},
        lambda line: line.method == "HEAD" and line.status == 200,
    ),
]


@pytest.mark.parametrize("limit", [1000, 37])
@pytest.mark.parametrize(("name", "body", "condition"), CASES, ids=[c[0] for c in CASES])
def test_paging_to_the_end_returns_every_matching_line_once_newest_first(
    search_client: httpx.Client,
    lines: list[Line],
    name: str,
    body: dict[str, Any],
    condition: Condition,
    limit: int,
) -> None:
    if name == "everything" and limit == 37:
        limit = 10_000  # the largest page: the whole input in one
    want = sorted(
        (line for line in lines if condition(line)), key=lambda x: (x.time_ms, x.id), reverse=True
    )
    assert want, "the case must match something"
    got = search_all(search_client, {"interval": ALL_TIME, **body}, limit)
    assert [e["line"] for e in got] == [line.text for line in want]
    assert [e["id"] for e in got] == [line.id for line in want]
    assert [_iso_ms(e["timestamp"].replace("Z", "+00:00")) for e in got] == [
        line.time_ms for line in want
    ]


def test_an_event_carries_every_field(search_client: httpx.Client, lines: list[Line]) -> None:
    newest = max(lines, key=lambda x: (x.time_ms, x.id))
    response = search_client.post("/api/v1/search", json={"interval": ALL_TIME, "limit": 1})
    answer = response.json()
    assert answer["next"] is not None
    (event,) = answer["events"]
    assert list(event) == [
        "timestamp",
        "service",
        "route",
        "status",
        "method",
        "user",
        "latency_ms",
        "bytes",
        "host",
        "id",
        "line",
    ]
    assert event["line"] == newest.text and event["id"] == newest.id
    assert event["status"] == newest.status and event["host"] == "collector-1"
    assert event["latency_ms"] is None  # combined log lines carry none
    assert event["user"] == CLF.match(newest.text)[1]  # type: ignore[index]


def test_a_search_with_nothing_to_find_is_empty(search_client: httpx.Client) -> None:
    response = search_client.post(
        "/api/v1/search", json={"interval": "2016-01-01/2016-01-02", "contains": "x"}
    )
    assert response.json() == {"events": [], "next": None}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"filter": {}}, "interval"),
        ({"interval": "2015-05-18/2015-05-17"}, "empty"),
        ({"interval": ALL_TIME, "limit": 0}, "1..10000"),
        ({"interval": ALL_TIME, "limit": 10_001}, "1..10000"),
        ({"interval": ALL_TIME, "contains": "a", "regex": "a"}, "not both"),
        ({"interval": ALL_TIME, "regex": "(unclosed"}, "not valid"),
        ({"interval": ALL_TIME, "regex": "(?=look)ahead"}, "look-around"),
        ({"interval": ALL_TIME, "cursor": "not-a-cursor"}, "cursor"),
        ({"interval": ALL_TIME, "filter": {"colour": "red"}}, "allowed: service"),
        ({"interval": ALL_TIME, "sort": "oldest"}, "allowed fields"),
        ({"interval": ALL_TIME, "limit": "10"}, "limit"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_searches_are_400_saying_what_is_allowed(
    search_client: httpx.Client, body: Any, message: str
) -> None:
    response = search_client.post("/api/v1/search", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_a_body_that_is_not_json_is_400(search_client: httpx.Client) -> None:
    response = search_client.post("/api/v1/search", content=b"{nope")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


DAY_MS = 86_400_000


def test_retention_drops_what_is_older_than_its_window_and_nothing_else() -> None:
    store = open_store("duckdb://:memory:")
    try:
        events = store.events
        assert events is not None
        now = 1_800_000_000_000
        ages = [8 * DAY_MS, 7 * DAY_MS + 1, 7 * DAY_MS, 7 * DAY_MS - 1, DAY_MS, 0, -DAY_MS]
        rows = [
            (now - age, "web", "/", 200, "GET", None, None, 0, None, f"id-{i}", f"line {i}")
            for i, age in enumerate(ages)
        ]
        events.write_with_offsets(rows, "logs.events", {0: len(rows)})
        assert events.drop_expired(0, now) == 0  # 0 keeps everything
        assert events.drop_expired(7, now) == 2  # strictly older than 7 days
        left = events.search(SearchQuery(0, 2**62, limit=100))
        assert sorted(r[-2] for r in left) == ["id-2", "id-3", "id-4", "id-5", "id-6"]
        assert events.offsets("logs.events") == {0: len(rows)}
    finally:
        store.close()
