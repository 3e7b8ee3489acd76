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


def test_dashboard_loads_nothing_from_elsewhere(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    # every script and style comes from this server's /static/, which serves them
    refs = re.findall(r"<(?:script|link|img|iframe)[^>]*\b(?:src|href)=\"([^\"]*)\"", page)
    assets = [r for r in refs if r != "data:,"]  # the empty favicon: no request at all
    assert set(assets) == {
        "/static/uplot/uPlot.min.css",
        "/static/dashboard.css",
        "/static/uplot/uPlot.iife.min.js",
        "/static/events.js",
        "/static/dashboard.js",
    }
    types = {".js": "text/javascript", ".css": "text/css"}
    for path in assets:
        asset = client.get(path)
        assert asset.status_code == 200, path
        assert asset.headers["content-type"].startswith(types[path[path.rindex(".") :]])
        text = asset.text
        assert "@import" not in text and "url(" not in text, path
        # the only address in them is uPlot's home page, in its licence comment
        assert set(re.findall(r"https?://[^\s\"'<>)]+", text)) <= {
            "https://github.com/leeoniya/uPlot"
        }, path
    # the vendored library's licence ships beside it and is linked from the page
    assert '<a href="/static/uplot/LICENSE">' in page
    licence = client.get("/static/uplot/LICENSE")
    assert licence.status_code == 200 and "MIT License" in licence.text
    # the script asks the API for what it shows
    script = client.get("/static/dashboard.js").text
    for needle in ("/api/v1/query", "/api/v1/time-boundary", "latency_p95", "unique_users"):
        assert needle in script


@pytest.mark.parametrize(
    "path", ["/static/nothing.js", "/static/../app.py", "/static/%2e%2e/app.py", "/static/"]
)
def test_static_serves_only_its_own_files(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_no_pages_that_need_the_internet(client: httpx.Client) -> None:
    for path in ("/docs", "/redoc", "/api/docs"):
        assert client.get(path).status_code == 404
    spec = client.get("/openapi.json")  # the description itself is plain JSON
    assert spec.status_code == 200
    assert "requestBody" in spec.json()["paths"]["/api/v1/query"]["post"]
