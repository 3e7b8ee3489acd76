"""The HTTP surface besides queries: auth, health, time boundary, the dashboard page."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from squall.serve.app import create_app
from squall.serve.store import Store

QUERY = {
    "queryType": "timeseries",
    "interval": "2015-05-17/2015-05-19",
    "metrics": ["events"],
}


def test_health_and_empty_time_boundary(serve_http: Any, store: Store) -> None:
    with serve_http(create_app(store, health=lambda: {"loader": {"lag": 0}})) as client:
        assert client.get("/healthz").json() == {"status": "ok", "loader": {"lag": 0}}
        assert client.get("/api/v1/time-boundary").json() == {"minTime": None, "maxTime": None}
        rows = client.post("/api/v1/query", json=QUERY).json()["rows"]
        assert rows == [{"timestamp": "2015-05-17T00:00:00Z", "events": 0}]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong", "Bearer s3cret-extra", "Basic s3cret", "s3cret", "Bearer"],
)
def test_query_token_required(serve_http: Any, store: Store, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    with serve_http(create_app(store, tokens={"s3cret", "other-token"})) as client:
        for response in (
            client.post("/api/v1/query", json=QUERY, headers=headers),
            client.get("/api/v1/time-boundary", headers=headers),
        ):
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert "Bearer" in response.json()["error"]
        # health and the page carry no data and stay open
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 200


def test_query_token_accepted(serve_http: Any, store: Store) -> None:
    with serve_http(create_app(store, tokens={"s3cret", "other-token"})) as client:
        for token in ("s3cret", "other-token"):
            auth = {"Authorization": f"Bearer {token}"}
            assert client.post("/api/v1/query", json=QUERY, headers=auth).status_code == 200
            lower = {"Authorization": f"bearer {token}"}
            assert client.get("/api/v1/time-boundary", headers=lower).status_code == 200


def test_dashboard_is_one_self_contained_page(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    # nothing loaded from elsewhere: no external scripts, styles, fonts or images
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", page)
    assert "@import" not in page and "url(" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace name, never fetched
    # it asks the API for what it shows, and refreshes itself
    for needle in ("/api/v1/query", "/api/v1/time-boundary", "latency_p95", "unique_users"):
        assert needle in page
    assert re.search(r"REFRESH_MS = \d{4}", page)


def test_dashboard_queries_are_valid(client: httpx.Client) -> None:
    """The queries the page sends (copied from its script) answer 200 with rows."""
    page = client.get("/").text
    assert '"timeseries", interval, granularity: "minute"' in page
    interval = "2015-05-17T23:00:00.000Z/2015-05-18T00:00:00.000Z"
    bodies: list[dict[str, Any]] = [
        {
            "queryType": "timeseries",
            "interval": interval,
            "granularity": "minute",
            "metrics": ["events", "error_rate", "latency_p95", "unique_users"],
        },
        {
            "queryType": "timeseries",
            "interval": interval,
            "granularity": "all",
            "metrics": ["events", "unique_users"],
        },
        {
            "queryType": "topN",
            "interval": interval,
            "granularity": "all",
            "dimension": "route",
            "metric": "events",
            "threshold": 10,
            "metrics": ["error_rate", "latency_p95", "unique_users"],
        },
    ]
    for body in bodies:
        response = client.post("/api/v1/query", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["rows"]


def test_no_pages_that_need_the_internet(client: httpx.Client) -> None:
    for path in ("/docs", "/redoc", "/api/docs", "/openapi.json"):
        assert client.get(path).status_code == 404
