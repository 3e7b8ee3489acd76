"""Every invalid query is a 400 whose message says what is wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from squall.serve.app import create_app
from squall.serve.store import Store, open_store

OK: dict[str, Any] = {
    "queryType": "timeseries",
    "interval": "2015-05-17T00:00:00Z/2015-05-18T00:00:00Z",
    "granularity": "day",
    "metrics": ["events"],
}
TOP = {**OK, "queryType": "topN", "dimension": "route", "metric": "events", "threshold": 5}
GROUP = {**OK, "queryType": "groupBy", "dimensions": ["service"]}
METRIC_LIST = "events, errors, error_rate, bytes, latency_avg"
DIMENSION_LIST = "service, method, route, status_class, status"


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


CASES: list[tuple[str, object, list[str]]] = [
    # (case id, body, substrings the message must contain)
    ("array body", [OK], ["JSON object", "queryType"]),
    ("string body", "timeseries", ["JSON object"]),
    ("no queryType", without(OK, "queryType"), ["queryType", "required"]),
    ("unknown queryType", {**OK, "queryType": "scan"}, ["'scan'", "timeseries, topN, groupBy"]),
    ("unknown field", {**OK, "aggregations": []}, ["aggregations", "allowed fields", "metrics"]),
    ("unknown granularity", {**OK, "granularity": "week"}, ["week", "minute, hour, day, all"]),
    ("no interval", without(OK, "interval"), ["interval", "required"]),
    ("interval not text", {**OK, "interval": ["a", "b"]}, ["interval", "string"]),
    ("interval without slash", {**OK, "interval": "2015-05-17"}, ["start/end", "ISO-8601"]),
    ("interval two slashes", {**OK, "interval": "2015-05-17/2015-05-18/x"}, ["start/end"]),
    ("interval not ISO", {**OK, "interval": "yesterday/today"}, ["yesterday", "ISO-8601"]),
    ("interval reversed", {**OK, "interval": "2015-05-18/2015-05-17"}, ["before its end"]),
    ("interval empty", {**OK, "interval": "2015-05-17/2015-05-17"}, ["before its end"]),
    ("unknown metric", {**OK, "metrics": ["p95"]}, ["'p95'", METRIC_LIST, "unique_users"]),
    ("no metrics", without(OK, "metrics"), ["metrics", METRIC_LIST]),
    ("empty metrics", {**OK, "metrics": []}, ["metrics", METRIC_LIST]),
    ("metric twice", {**OK, "metrics": ["events", "events"]}, ["twice"]),
    ("metrics not a list", {**OK, "metrics": "events"}, ["metrics", "list"]),
    ("dimension on timeseries", {**OK, "dimension": "route"}, ["only for", "topN"]),
    ("dimensions on topN", {**TOP, "dimensions": ["route"]}, ["only for", "groupBy"]),
    ("threshold on groupBy", {**GROUP, "threshold": 3}, ["only for", "topN"]),
    ("groupBy without dimensions", without(GROUP, "dimensions"), ["dimensions", DIMENSION_LIST]),
    ("groupBy empty dimensions", {**GROUP, "dimensions": []}, ["dimensions", DIMENSION_LIST]),
    ("groupBy unknown dimension", {**GROUP, "dimensions": ["host"]}, ["'host'", DIMENSION_LIST]),
    ("groupBy dimension twice", {**GROUP, "dimensions": ["route", "route"]}, ["twice"]),
    ("topN without threshold", without(TOP, "threshold"), ["threshold", "1..1000"]),
    ("topN without metric", without(TOP, "metric"), ["'metric'", METRIC_LIST]),
    ("topN without dimension", without(TOP, "dimension"), ["'dimension'", DIMENSION_LIST]),
    ("topN unknown dimension", {**TOP, "dimension": "url"}, ["'url'", DIMENSION_LIST]),
    ("topN unknown metric", {**TOP, "metric": "hits"}, ["'hits'", METRIC_LIST]),
    ("topN threshold 0", {**TOP, "threshold": 0}, ["threshold 0", "1..1000"]),
    ("topN threshold huge", {**TOP, "threshold": 5000}, ["threshold 5000", "1..1000"]),
    ("topN threshold text", {**TOP, "threshold": "ten"}, ["threshold", "integer"]),
    ("topN threshold true", {**TOP, "threshold": True}, ["threshold", "integer"]),
    ("topN threshold float", {**TOP, "threshold": 2.0}, ["threshold", "integer"]),
    ("filter unknown dimension", {**OK, "filter": {"host": "a"}}, ["'host'", DIMENSION_LIST]),
    ("filter empty list", {**OK, "filter": {"service": []}}, ["service", "empty list"]),
    ("filter bad value", {**OK, "filter": {"service": {"a": 1}}}, ["filter.service"]),
    ("filter boolean", {**OK, "filter": {"status": True}}, ["filter.status"]),
    ("filter float", {**OK, "filter": {"status": [500, 503.5]}}, ["filter.status"]),
    ("filter not an object", {**OK, "filter": ["service", "web"]}, ["filter"]),
    (
        "too many timeseries rows",
        {**OK, "granularity": "minute", "interval": "2015-01-01/2015-03-01"},
        ["84960 rows", "limit is 20", "coarser granularity", "minute, hour, day, all"],
    ),
    (
        "too many topN rows",
        {**TOP, "granularity": "minute", "interval": "2015-05-17/2015-05-19", "threshold": 5},
        ["750 rows", "5 per minute bucket", "limit is 20", "smaller threshold"],
    ),
]


@pytest.fixture(scope="module")
def small_store(rows: list[dict[str, Any]]) -> Iterator[Store]:
    """The test rows in a store that allows only 20 result rows."""
    store = open_store("duckdb://:memory:", max_rows=20)
    store.write(rows)
    yield store
    store.close()


@pytest.fixture(scope="module")
def api(serve_http: Any, small_store: Store) -> Iterator[httpx.Client]:
    with serve_http(create_app(small_store)) as client:
        yield client


def check_400(response: httpx.Response, expected: list[str]) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_query_is_400_with_message(
    api: httpx.Client, body: object, expected: list[str]
) -> None:
    check_400(api.post("/api/v1/query", json=body), expected)


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"not json", b"\xff\xfe"], ids=["empty", "truncated", "text", "binary"]
)
def test_body_that_is_not_json_is_400(api: httpx.Client, raw: bytes) -> None:
    response = api.post("/api/v1/query", content=raw, headers={"content-type": "application/json"})
    check_400(response, ["not valid JSON", "queryType"])


def test_group_by_over_the_row_limit_is_400(api: httpx.Client) -> None:
    body = {**GROUP, "dimensions": ["route", "status"], "interval": "2015-01-01/2016-01-01"}
    check_400(api.post("/api/v1/query", json=body), ["more than 20 rows", "Add a filter"])
    body["filter"] = {"route": "/login", "status": ["500", "503"]}  # narrowed: now it fits
    response = api.post("/api/v1/query", json=body)
    assert response.status_code == 200
    assert 0 < len(response.json()["rows"]) <= 20


def test_valid_queries_pass(api: httpx.Client) -> None:
    """The bases the cases above break are themselves valid (so each 400 is the change),
    and a long interval is fine for groupBy and topN as long as the rows fit."""
    for body in (OK, TOP, GROUP):
        assert api.post("/api/v1/query", json=body).status_code == 200
    year = {"interval": "2015-01-01/2016-01-01", "granularity": "minute"}
    assert api.post("/api/v1/query", json={**GROUP, **year}).status_code == 400
    narrow = {"filter": {"service": "web", "route": "/cart", "method": "PUT", "status": "201"}}
    for body in ({**GROUP, **year, **narrow}, {**TOP, **year, **narrow, "threshold": 1}):
        response = api.post("/api/v1/query", json=body)
        assert response.status_code == 200, response.text
        assert 0 < len(response.json()["rows"]) <= 20


def test_oversized_body_is_413(api: httpx.Client) -> None:
    body = {**OK, "filter": {"route": [f"/r{i}" for i in range(20_000)]}}
    response = api.post("/api/v1/query", json=body)
    assert response.status_code == 413
    assert "limit is 65536" in response.json()["error"]
