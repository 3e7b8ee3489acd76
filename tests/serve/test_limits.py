"""The query API's limits (serve.limits): each is a 400 (or 408) that names the limit, never
a 500, and a slow query holds up nobody else."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from squall.exceptions import ConfigError
from squall.serve.app import create_app
from squall.serve.druid_store import compile_query
from squall.serve.duckdb_store import DuckDBStore
from squall.serve.exceptions import QueryTimeout, TooManyRows
from squall.serve.limits import MAX_BUCKETS, MAX_FILTER_VALUES, MAX_THRESHOLD
from squall.serve.query import Query, parse_query
from squall.serve.service import ServeStage
from squall.settings import load_settings

DAY: dict[str, Any] = {
    "queryType": "timeseries",
    "interval": "2015-05-17T00:00:00Z/2015-05-19T00:00:00Z",
    "granularity": "day",
    "metrics": ["events"],
}
TOP = {**DAY, "queryType": "topN", "dimension": "route", "metric": "events", "threshold": 5}
GROUP = {**DAY, "queryType": "groupBy", "dimensions": ["service"]}
TEN_YEARS = {"interval": "2010-01-01/2020-01-01", "granularity": "minute"}
SLOW_SQL = "SELECT count(*) FROM range(1000000000000) a"  # hours of work, if let run


class _CountingStore(DuckDBStore):
    """The real DuckDB store, counting the queries that reach it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queries = 0

    def query(self, query: Query) -> list[dict[str, Any]]:
        self.queries += 1
        return super().query(query)


@pytest.fixture(scope="module")
def counting(rows: list[dict[str, Any]]) -> Iterator[_CountingStore]:
    store = _CountingStore(":memory:")
    store.write(rows)
    yield store
    store.close()


@pytest.fixture(scope="module")
def api(serve_http: Any, counting: _CountingStore) -> Iterator[httpx.Client]:
    with serve_http(create_app(counting)) as client:
        yield client


def refused(api: httpx.Client, body: object, *expected: str) -> str:
    response = api.post("/api/v1/query", json=body)
    assert response.status_code == 400, response.text
    message: str = response.json()["error"]
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    return message


@pytest.mark.parametrize("base", [DAY, TOP, GROUP], ids=["timeseries", "topN", "groupBy"])
def test_ten_years_by_minute_is_refused_before_running(
    api: httpx.Client, counting: _CountingStore, base: dict[str, Any]
) -> None:
    before = counting.queries
    refused(api, {**base, **TEN_YEARS}, "5258880", "rows", "coarser granularity")
    assert counting.queries == before  # the store never saw it
    hours = api.post("/api/v1/query", json={**base, **TEN_YEARS, "granularity": "day"})
    assert hours.status_code == 200, hours.text  # 3652 day buckets: what the message suggests


def test_the_bucket_limit_is_what_the_message_says() -> None:
    minutes = {**GROUP, "granularity": "minute"}
    parse_query({**minutes, "interval": "2015-01-01/2016-01-01"})  # 525,600 minutes: allowed
    with pytest.raises(TooManyRows, match=f"limits are {MAX_BUCKETS} buckets"):
        parse_query({**minutes, "interval": "2015-01-01/2017-01-01"})


def test_top_n_threshold_is_capped(api: httpx.Client) -> None:
    refused(api, {**TOP, "threshold": 1_000_000}, "threshold 1000000", f"1..{MAX_THRESHOLD}")
    assert api.post("/api/v1/query", json={**TOP, "threshold": MAX_THRESHOLD}).status_code == 200


def test_filter_values_are_capped(api: httpx.Client, events: list[Any]) -> None:
    routes = [f"/r{i}" for i in range(MAX_FILTER_VALUES)]
    over = {**DAY, "filter": {"route": [*routes, "/login"]}}
    refused(api, over, f"{MAX_FILTER_VALUES + 1} values", f"limit is {MAX_FILTER_VALUES}")
    at_limit = {**DAY, "filter": {"route": [*routes[1:], "/login"]}}
    response = api.post("/api/v1/query", json=at_limit)
    assert response.status_code == 200, response.text
    want = sum(1 for e in events if e.route == "/login" and e.time.day in (17, 18))
    assert sum(r["events"] for r in response.json()["rows"]) == want


@pytest.mark.parametrize("depth", [4, 1000, 5000])
@pytest.mark.parametrize("kind", ["lists", "objects"])
def test_deeply_nested_filter_is_400(api: httpx.Client, depth: int, kind: str) -> None:
    nested = "[" * depth + '"web"' + "]" * depth
    if kind == "objects":
        nested = '{"a":' * depth + '"web"' + "}" * depth
    body = '{"queryType": "timeseries", "interval": "2015-05-17/2015-05-18", ' + (
        f'"metrics": ["events"], "filter": {{"service": {nested}}}}}'
    )
    response = api.post("/api/v1/query", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    assert "nested" in response.json()["error"]


@pytest.mark.parametrize(
    ("interval", "granularity", "buckets"),
    [
        ("0001-01-01/9999-12-31T23:59:59.999999", "all", 1),
        ("0001-01-01/0001-01-01T00:05", "minute", 5),
        ("9999-12-31T23:55/9999-12-31T23:59:59.999999", "minute", 5),
        ("9999-12-31/9999-12-31T23:59:59.999999", "hour", 24),
        ("9999-12-01/9999-12-31T23:59:59.999999", "day", 31),
    ],
)
def test_edges_of_the_calendar_answer(
    api: httpx.Client, interval: str, granularity: str, buckets: int
) -> None:
    for base in (DAY, TOP, GROUP):
        body = {**base, "interval": interval, "granularity": granularity}
        response = api.post("/api/v1/query", json=body)
        assert response.status_code == 200, response.text
        if base is DAY:
            assert len(response.json()["rows"]) == buckets
            assert response.json()["rows"][0]["timestamp"].startswith(interval[:4])


@pytest.mark.parametrize(
    "interval",
    [
        "0001-01-01T00:00:00+01:00/2015-01-01",  # year 0 in UTC
        "2015-01-01/9999-12-31T23:59:59-01:00",  # year 10000 in UTC
        "0000-12-31/2015-01-01",
        "2015-01-01/10000-01-01",
    ],
)
def test_dates_past_the_calendar_are_400(api: httpx.Client, interval: str) -> None:
    refused(api, {**DAY, "interval": interval}, "ISO-8601")
    refused(api, {**GROUP, "interval": interval}, "ISO-8601")


def test_days_over_the_whole_calendar_are_refused_with_the_estimate(api: httpx.Client) -> None:
    refused(api, {**DAY, "interval": "0001-01-01/9999-12-31"}, "3652058 rows", "limit is 10000")


# -- time ------------------------------------------------------------------------------


class _SlowStore(DuckDBStore):
    """Runs a query of granularity ``hour`` as SQL that takes hours; others as usual."""

    def query(self, query: Query) -> list[dict[str, Any]]:
        if query.granularity == "hour":
            self._fetch(SLOW_SQL, [])
        return super().query(query)


def test_a_query_past_the_timeout_is_stopped_with_408(serve_http: Any) -> None:
    with _SlowStore(":memory:", timeout=0.3) as store, serve_http(create_app(store)) as api:
        response = api.post("/api/v1/query", json={**DAY, "granularity": "hour"})
        assert response.status_code == 408, response.text
        body = response.json()
        assert body["type"] == "QueryTimeout"
        assert "longer than 0.3 s" in body["error"]
        assert "SQUALL_QUERY_TIMEOUT" in body["error"]
        # the store is fine afterwards: the next query is answered
        assert api.post("/api/v1/query", json=DAY).status_code == 200


def test_duckdb_interrupts_its_own_query() -> None:
    with DuckDBStore(":memory:", timeout=0.2) as store, pytest.raises(QueryTimeout):
        store._fetch(SLOW_SQL, [])


class _SlowSearchStore(DuckDBStore):
    """Runs every search as SQL that takes hours, through the event store's own reads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        events = self.events
        events.search = lambda query: events._fetch(SLOW_SQL, [])  # type: ignore[method-assign]


def test_a_search_past_the_timeout_is_stopped_with_408(serve_http: Any) -> None:
    with _SlowSearchStore(":memory:", timeout=0.3) as store, serve_http(create_app(store)) as api:
        response = api.post("/api/v1/search", json={"interval": DAY["interval"]})
        assert response.status_code == 408, response.text
        body = response.json()
        assert body["type"] == "QueryTimeout"
        assert "longer than 0.3 s" in body["error"]
        assert "SQUALL_QUERY_TIMEOUT" in body["error"]
        assert "Search a shorter interval" in body["error"]
        # the aggregates on the same connection are still answered
        assert api.post("/api/v1/query", json=DAY).status_code == 200


def test_duckdb_interrupts_its_own_search() -> None:
    with DuckDBStore(":memory:", timeout=0.2) as store, pytest.raises(QueryTimeout):
        store.events._fetch(SLOW_SQL, [])


class _BlockingStore(DuckDBStore):
    """Holds a query of granularity ``hour`` until ``release`` is set (a slow query whose
    end the test decides); others run at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entered = threading.Event()
        self.release = threading.Event()

    def query(self, query: Query) -> list[dict[str, Any]]:
        if query.granularity == "hour":
            self.entered.set()
            assert self.release.wait(60), "the test never released the slow query"
        return super().query(query)


def test_a_slow_query_does_not_stall_the_others(
    serve_http: Any, rows: list[dict[str, Any]], events: list[Any]
) -> None:
    with _BlockingStore(":memory:") as store, serve_http(create_app(store)) as api:
        store.write(rows)
        slow: dict[str, httpx.Response] = {}
        done = threading.Event()

        def post_slow() -> None:
            slow["response"] = api.post("/api/v1/query", json={**DAY, "granularity": "hour"})
            done.set()

        thread = threading.Thread(target=post_slow)
        thread.start()
        try:
            assert store.entered.wait(30), "the slow query never reached the store"
            quick = api.post("/api/v1/query", json=DAY)  # while the slow one runs
            assert quick.status_code == 200
            assert sum(r["events"] for r in quick.json()["rows"]) == sum(
                1 for e in events if e.time.day in (17, 18)
            )
            assert api.get("/healthz").status_code == 200
            assert not done.is_set()  # the slow one is still running
        finally:
            store.release.set()
            thread.join(60)
        assert slow["response"].status_code == 200
        assert len(slow["response"].json()["rows"]) == 48


def test_druid_is_given_the_timeout_in_the_query_context() -> None:
    query = parse_query(DAY)
    assert compile_query(query, timeout=2.5)["context"]["timeout"] == 2500
    assert compile_query(query)["context"]["timeout"] == 10_000


def test_the_timeout_comes_from_squall_query_timeout(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "SQUALL_QUERY_TIMEOUT": "2.5",
            "SQUALL_DATA_DIR": str(tmp_path),
            "SQUALL_SERVE_PORT": "0",
        }
    )
    assert settings.query_timeout == 2.5
    with ServeStage(settings) as stage:
        assert stage.store.timeout == 2.5
    with pytest.raises(ConfigError, match="SQUALL_QUERY_TIMEOUT"):
        load_settings({"SQUALL_QUERY_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="SQUALL_QUERY_TIMEOUT"):
        DuckDBStore(":memory:", timeout=0)
