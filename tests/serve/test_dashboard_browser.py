"""The dashboard in a real browser: Debian's chromium, headless, driven by Playwright.

Each test serves the app over real HTTP with data whose ground truth it computes from the
raw events (conftest ``gt``), then reads what the page shows: the tiles' values, the
tables' rows and the charts' tooltips (by hovering), and the query JSON each panel ran.
Waits are on events (a refresh counter the page sets, the URL, a banner), never sleeps.
Screenshots go to a pytest temporary folder whose path is printed.

Playwright cannot download a browser here, so it launches the chromium that
``make system-packages`` installs (skipped without it, except in CI).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from squall.serve.app import create_app
from squall.serve.exceptions import StoreUnavailable
from squall.serve.query import Query
from squall.serve.store import Store, open_store

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = next(
    (shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)),
    None,
)
NO_VALUE = "\u2013"  # the en dash the page shows for a value that is not there
PANELS = ("events", "errors", "latency", "bytes", "users", "top-status", "top-service", "top-route")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the browser tests need chromium in CI (make system-packages)")
        pytest.skip("chromium is not installed (make system-packages)")
    with playwright_api.sync_playwright() as p:
        # --no-sandbox: the tests run as root, where chromium's sandbox refuses to start
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard-screenshots")


class Dashboard:
    """One page of the dashboard and what it shows."""

    def __init__(self, page: Any, base: str, shots: Path, capsys: pytest.CaptureFixture[str]):
        self.page, self.base, self.shots, self.capsys = page, base, shots, capsys
        self.errors: list[str] = []
        self.api_statuses: list[int] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "response",
            lambda r: self.api_statuses.append(r.status) if "/api/" in r.url else None,
        )

    def open(self, path: str = "/") -> None:
        self.page.goto(self.base + path)
        self.wait_refreshed(0)

    def refreshes(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.refreshes || 0)"))

    def wait_refreshed(self, after: int) -> None:
        """Until the page has finished a refresh beyond the ``after``-th."""
        self.page.wait_for_function(
            f"Number(document.body.dataset.refreshes || 0) > {after}", timeout=30_000
        )

    def act(self, action: Callable[[], None]) -> None:
        """Do ``action`` (a click...) and wait for the refresh it causes to be drawn."""
        before = self.refreshes()
        action()
        self.wait_refreshed(before)

    def state(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.page.url).query)

    def tile(self, name: str) -> tuple[str, float | None]:
        el = self.page.locator(f"#t-{name}")
        value = el.get_attribute("data-value")
        return el.inner_text(), float(value) if value else None

    def table(self, panel: str) -> list[list[str]]:
        rows = self.page.locator(f'[data-panel="{panel}"] tbody tr')
        return [
            [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
            for i in range(rows.count())
        ]

    def queries(self, panel: str) -> list[dict[str, Any]]:
        """The query JSON the panel shows (what it ran)."""
        section = self.page.locator(f'[data-panel="{panel}"]')
        text = section.locator(".query pre").text_content() or ""
        return [json.loads(part) for part in text.split("\n\n") if part.strip()]

    def hover(self, panel: str, fraction: float) -> list[str]:
        """Hover the panel's chart at ``fraction`` of its width; the tooltip's lines."""
        over = self.page.locator(f'[data-panel="{panel}"] .u-over')
        box = over.bounding_box()
        assert box is not None
        self.page.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2)
        self.page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
        tip = self.page.locator(f'[data-panel="{panel}"] .tip')
        tip.wait_for(state="visible")
        lines: list[str] = tip.locator("div").all_inner_texts()
        return lines

    def shoot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        with self.capsys.disabled():
            print(f"\nscreenshot: {path}")
        return path


@pytest.fixture
def dashboard(
    browser: Any, shots: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[[str], Dashboard]:
    contexts: list[Any] = []

    def make(base: str) -> Dashboard:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        return Dashboard(context.new_page(), base, shots, capsys)

    yield make  # type: ignore[misc]
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def api(serve_http: Any, loaded_store: Store) -> Iterator[httpx.Client]:
    """The app over ``loaded_store`` (conftest's 20,000 events), served over HTTP."""
    with serve_http(create_app(loaded_store)) as client:
        yield client


def base(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/")


def minute(text: str) -> datetime:
    """``2015-05-17 23:05`` (as the page shows times, UTC) -> naive UTC."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


def bounds_of(events: list[Any]) -> tuple[datetime, datetime]:
    """The first minute with data and the end of the last one."""
    first = min(e.time for e in events).replace(second=0, microsecond=0)
    last = max(e.time for e in events).replace(second=0, microsecond=0)
    return first, last + timedelta(minutes=1)


def interval(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%dT%H:%M:%S}.000Z/{end:%Y-%m-%dT%H:%M:%S}.000Z"


def check_every_panel(
    board: Dashboard, client: httpx.Client, start: datetime, end: datetime, flt: dict[str, Any]
) -> None:
    """Every panel ran its query over [start, end) with ``flt``, and shows what the API
    answers to that query."""
    for panel in ("totals", *PANELS):
        queries = board.queries(panel)
        assert queries, panel
        main = queries[0]
        assert main["interval"] == interval(start, end), panel
        assert main.get("filter", {}) == flt, panel
        response = client.post("/api/v1/query", json=main)
        assert response.status_code == 200, response.text
        rows = response.json()["rows"]
        if panel == "totals":
            assert board.tile("events")[1] == rows[0]["events"]
            assert board.tile("error-rate")[1] == rows[0]["error_rate"]
            # sketch merges need not repeat to the last digit: within the sketch's error
            users = board.tile("users")[1]
            assert users == pytest.approx(rows[0]["unique_users"], rel=0.02)
        elif panel.startswith("top-"):
            dim = main["dimension"]
            assert [r[0] for r in board.table(panel)] == [r[dim] for r in rows], panel
            assert [int(r[2].replace(",", "")) for r in board.table(panel)] == [
                r["events"] for r in rows
            ]
    assert set(board.api_statuses) == {200}, board.api_statuses
    assert not board.errors, board.errors


def check_totals(board: Dashboard, gt: Any, want: dict[tuple[str, ...], Any]) -> None:
    """The tiles against the ground truth of the window (one ``all`` group)."""
    group = next(iter(want.values())) if want else gt.Group()
    text, events = board.tile("events")
    assert events == group.events and text == f"{group.events:,}"
    _, rate = board.tile("error-rate")
    if group.events:
        assert rate == pytest.approx(group.errors / group.events, rel=1e-9)
    _, users = board.tile("users")
    gt.check_metric("unique_users", users, group)


def check_top(
    board: Dashboard,
    panel: str,
    dim: str,
    gt: Any,
    events: list[Any],
    start: datetime,
    end: datetime,
    flt: dict[str, Any],
) -> None:
    want = gt.truth(events, start, end, "all", (dim,), flt)
    top = sorted(want.items(), key=lambda kv: (-kv[1].events, kv[0][1]))[:10]
    shown = board.table(panel)
    assert [r[0] for r in shown] == [key[1] for key, _ in top]
    assert [int(r[2].replace(",", "")) for r in shown] == [g.events for _, g in top]


# -- the tests -----------------------------------------------------------------------------


def test_default_window_is_the_data_and_numbers_are_the_truth(
    gt: Any, events: list[Any], api: httpx.Client, dashboard: Callable[[str], Dashboard]
) -> None:
    board = dashboard(base(api))
    board.open()
    start, end = bounds_of(events)  # a replay of old logs: its whole span
    assert board.page.locator("#presets .active").inner_text() == "all data"
    check_every_panel(board, api, start, end, {})
    check_totals(board, gt, gt.truth(events, start, end, "all"))
    for panel, dim in (
        ("top-route", "route"),
        ("top-service", "service"),
        ("top-status", "status"),
    ):
        check_top(board, panel, dim, gt, events, start, end, {})
    # a chart's tooltip shows each status class's own rate in that minute (not stacked)
    lines = board.hover("events", 0.5)
    at = minute(lines[0].removesuffix(" UTC"))
    per_class = gt.truth(events, at, at + timedelta(minutes=1), "minute", ("status_class",))
    assert lines[1:] == [
        f"{cls}: {js_number(g.events / 60, 2)} /s"
        for (_, cls), g in sorted(per_class.items(), key=lambda kv: kv[0][1])
    ]
    board.shoot("default-window")


def js_number(value: float, digits: int) -> str:
    """``Number.toLocaleString("en-US", {maximumFractionDigits})``."""
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def test_filters_and_range_update_every_panel(
    gt: Any, events: list[Any], api: httpx.Client, dashboard: Callable[[str], Dashboard]
) -> None:
    board = dashboard(base(api))
    board.open()
    start, end = bounds_of(events)
    # click a route in the top routes table: every panel filters by it
    board.act(lambda: board.page.locator('[data-panel="top-route"] tbody tr').nth(1).click())
    route = board.state()["route"][0]
    assert route == check_route_rank(gt, events, start, end)
    check_every_panel(board, api, start, end, {"route": route})
    check_totals(board, gt, gt.truth(events, start, end, "all", (), {"route": route}))
    check_top(board, "top-service", "service", gt, events, start, end, {"route": route})
    assert board.page.locator("#f-route").input_value() == route
    # status classes from the filter bar
    board.act(lambda: board.page.locator('#f-class input[value="5xx"]').check())
    board.act(lambda: board.page.locator('#f-class input[value="4xx"]').check())
    flt: dict[str, Any] = {"route": route, "status_class": ["4xx", "5xx"]}
    check_every_panel(board, api, start, end, flt)
    check_totals(board, gt, gt.truth(events, start, end, "all", (), flt))
    # the last hour of data
    board.act(lambda: board.page.locator('#presets button[data-range="1h"]').click())
    assert board.state()["range"] == ["1h"]
    check_every_panel(board, api, end - timedelta(hours=1), end, flt)
    check_totals(board, gt, gt.truth(events, end - timedelta(hours=1), end, "all", (), flt))
    board.shoot("filtered-last-hour")
    # a service from the filter bar's list, then the route filter removed by its chip
    board.act(lambda: board.page.locator("#f-service").select_option("api"))
    board.act(lambda: board.page.locator('#chips .chip[data-dim="route"] button').click())
    flt = {"service": "api", "status_class": ["4xx", "5xx"]}
    check_every_panel(board, api, end - timedelta(hours=1), end, flt)
    check_totals(board, gt, gt.truth(events, end - timedelta(hours=1), end, "all", (), flt))


def check_route_rank(gt: Any, events: list[Any], start: datetime, end: datetime) -> str:
    """The second route by events: the row the test clicks."""
    want = gt.truth(events, start, end, "all", ("route",))
    return sorted(want.items(), key=lambda kv: (-kv[1].events, kv[0][1]))[1][0][1]


def test_url_restores_the_state(
    gt: Any, events: list[Any], api: httpx.Client, dashboard: Callable[[str], Dashboard]
) -> None:
    start, end = datetime(2015, 5, 17, 23, 10), datetime(2015, 5, 17, 23, 55)
    flt = {"service": "web", "status_class": ["2xx", "5xx"]}
    path = (
        "/?from=2015-05-17T23:10:00Z&to=2015-05-17T23:55:00Z&live=0"
        "&service=web&status_class=2xx&status_class=5xx"
    )
    board = dashboard(base(api))
    for _ in range(2):  # as opened from a shared link, then reloaded
        board.open(path)
        assert board.page.locator("#presets .active").count() == 0
        assert board.page.locator("#from").input_value() == "2015-05-17T23:10"
        assert board.page.locator("#to").input_value() == "2015-05-17T23:55"
        assert board.page.locator("#f-service").input_value() == "web"
        assert board.page.locator("#live").is_checked() is False
        checked = board.page.locator("#f-class input:checked")
        assert [checked.nth(i).get_attribute("value") for i in range(checked.count())] == [
            "2xx",
            "5xx",
        ]
        check_every_panel(board, api, start, end, flt)
        check_totals(board, gt, gt.truth(events, start, end, "all", (), flt))
        board.page.reload()
        board.wait_refreshed(0)
    # back and forward walk the states
    board.act(lambda: board.page.locator('#presets button[data-range="15m"]').click())
    assert board.state()["range"] == ["15m"]
    board.act(lambda: board.page.go_back())
    assert board.state()["from"] == ["2015-05-17T23:10:00Z"]
    check_every_panel(board, api, start, end, flt)


def test_drag_to_zoom_and_absolute_range(
    gt: Any, events: list[Any], api: httpx.Client, dashboard: Callable[[str], Dashboard]
) -> None:
    board = dashboard(base(api))
    board.open()
    over = board.page.locator('[data-panel="latency"] .u-over')
    box = over.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2

    def drag() -> None:
        board.page.mouse.move(box["x"] + box["width"] * 0.3, y)
        board.page.mouse.down()
        board.page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
        board.page.mouse.up()

    board.act(drag)
    state = board.state()
    assert state["live"] == ["0"]
    start, end = (gt.parse_iso(state[k][0]) for k in ("from", "to"))
    full = bounds_of(events)
    assert full[0] < start < end < full[1]
    assert timedelta(minutes=20) < end - start < timedelta(minutes=40)  # 20% of 150 min
    check_every_panel(board, api, start, end, {})
    check_totals(board, gt, gt.truth(events, start, end, "all"))
    # an absolute range typed in
    board.page.locator("#from").fill("2015-05-17T23:00")
    board.page.locator("#to").fill("2015-05-17T23:30")
    board.act(lambda: board.page.locator("#range button").click())
    start, end = datetime(2015, 5, 17, 23, 0), datetime(2015, 5, 17, 23, 30)
    check_every_panel(board, api, start, end, {})
    check_totals(board, gt, gt.truth(events, start, end, "all"))


def test_minutes_without_data_are_no_data_not_zeros(
    gt: Any, events: list[Any], api: httpx.Client, dashboard: Callable[[str], Dashboard]
) -> None:
    board = dashboard(base(api))
    board.open("/?range=3h")  # 30 minutes before the first event, then 150 with data
    for panel in ("events", "bytes", "users"):
        lines = board.hover(panel, 0.05)
        assert lines[0].endswith("UTC · no data"), lines
        assert all(line.endswith(": " + NO_VALUE) for line in lines[1:]), lines
    # and a minute with data shows its value
    lines = board.hover("bytes", 0.6)
    at = minute(lines[0].removesuffix(" UTC"))
    (only,) = gt.truth(events, at, at + timedelta(minutes=1), "all").values()
    assert lines[1] == f"bytes/s: {js_bytes(only.bytes / 60)}/s"


def js_bytes(value: float) -> str:
    """The page's fmtBytes: powers of 1000, one decimal from KB on."""
    units = ["B", "KB", "MB", "GB", "TB"]
    i = 0
    while abs(value) >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    return f"{js_number(value, 1 if i else 0)} {units[i]}"


def test_markup_in_logs_is_shown_as_text_and_runs_nothing(
    gt: Any, serve_http: Any, dashboard: Callable[[str], Dashboard]
) -> None:
    hostile = [
        '<img src=x onerror="window.__pwned=1">',
        "<script>window.__pwned=2</script>",
        '"><svg onload="window.__pwned=3">',
    ]
    at = datetime(2015, 5, 17, 12, 0)
    sample = [
        gt.Event(
            at + timedelta(seconds=i),
            hostile[i % 3],
            "GET",
            hostile[(i + 1) % 3],
            500,
            100,
            None,
            f"user-{i}",
        )
        for i in range(30)
    ]
    with open_store("duckdb://:memory:") as store:
        store.write(gt.delta_rows(sample, flushes=1))
        with serve_http(create_app(store)) as client:
            board = dashboard(base(client))
            board.open()
            routes = board.table("top-route")
            assert sorted(r[0] for r in routes) == sorted(hostile)
            assert sorted(r[0] for r in board.table("top-service")) == sorted(hostile)
            options = board.page.locator("#f-service option").all_inner_texts()
            assert sorted(options) == sorted(["all", *hostile])
            board.act(lambda: board.page.locator('[data-panel="top-route"] tbody tr').first.click())
            chip = board.page.locator('#chips .chip[data-dim="route"] span').inner_text()
            assert chip.startswith("route = ") and chip.removeprefix("route = ") in hostile
            # no element was made of a value: none of the payloads' tags exist, none ran
            assert (
                board.page.locator(
                    "main img, main script, main svg, #chips img, #chips svg, #chips script"
                ).count()
                == 0
            )
            assert board.page.evaluate("window.__pwned") is None
            assert board.page.locator("#t-p95").inner_text() == "no latency in these logs"
            assert (
                "No latency in these logs"
                in board.page.locator('[data-panel="latency"] .empty').inner_text()
            )
            board.shoot("markup-as-text")


class FlakyStore(Store):
    """A store whose queries fail as unavailable while ``down`` is set."""

    def __init__(self, inner: Store) -> None:
        self.inner, self.down = inner, False
        self.url, self.max_rows = inner.url, inner.max_rows

    def write(self, rows: Any) -> None:
        self.inner.write(rows)

    def query(self, query: Query) -> list[dict[str, Any]]:
        if self.down:
            raise StoreUnavailable("DuckDB file is locked by another process (test)")
        return self.inner.query(query)

    def time_boundary(self) -> tuple[datetime, datetime] | None:
        if self.down:
            raise StoreUnavailable("DuckDB file is locked by another process (test)")
        return self.inner.time_boundary()

    def close(self) -> None:
        """The inner store is the module's; it closes it."""


def test_banner_when_the_store_or_the_api_is_down_and_recovery(
    loaded_store: Store, serve_http: Any, dashboard: Callable[[str], Dashboard]
) -> None:
    flaky = FlakyStore(loaded_store)
    with serve_http(create_app(flaky)) as client:
        board = dashboard(base(client))
        board.open("/?refresh=1")
        events_before = board.tile("events")
        banner = board.page.locator("#banner")
        assert banner.is_hidden()
        # auto-refresh redraws in place: the same chart elements, no blank frame between
        mark = "for (const el of document.querySelectorAll('.uplot')) el.dataset.mark = 'kept'"
        board.page.evaluate(mark)
        board.wait_refreshed(board.refreshes() + 1)
        kept = board.page.locator('.uplot[data-mark="kept"]').count()
        assert kept == board.page.locator(".uplot").count() == 5

        flaky.down = True
        board.page.wait_for_function("document.body.dataset.state === 'error'")
        assert "the store is unavailable: DuckDB file is locked" in banner.inner_text()
        assert "Retrying every 1 s" in banner.inner_text()
        assert board.tile("events") == events_before  # the last data stays, marked stale
        assert board.page.locator('[data-panel="events"].stale').count() == 1
        board.shoot("store-down")
        flaky.down = False
        board.page.wait_for_function("document.body.dataset.state === 'ok'")
        assert "answer again" in banner.inner_text()
        assert board.page.locator(".stale").count() == 0

        # the API unreachable (the connection fails, as when the server is gone)
        board.page.route("**/api/**", lambda route: route.abort())
        board.page.wait_for_function("document.body.dataset.state === 'error'")
        assert "does not answer" in banner.inner_text()
        board.page.unroute("**/api/**")
        board.page.wait_for_function("document.body.dataset.state === 'ok'")
        assert board.tile("events") == events_before


def test_live_mode_follows_new_data_and_marks_the_filling_minute(
    gt: Any, serve_http: Any, dashboard: Callable[[str], Dashboard]
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    earlier = [
        gt.Event(now - timedelta(minutes=10, seconds=i), "web", "GET", "/", 200, 10, 5.0, "u")
        for i in range(20)
    ]
    with open_store("duckdb://:memory:") as store:
        store.write(gt.delta_rows(earlier, flushes=1))
        with serve_http(create_app(store)) as client:
            board = dashboard(base(client))
            board.open("/?range=15m&refresh=1")
            assert board.tile("events")[1] == 20
            # new events arrive, one of them stamped in a minute still to come: the page
            # follows them, and its last bucket (the current minute) is still filling
            later = [
                gt.Event(now + timedelta(seconds=s), "api", "GET", "/x", 503, 10, 9.0, "v")
                for s in (-240, -180, 90)
            ]
            store.write(gt.delta_rows(later, flushes=1))
            board.page.wait_for_function(
                "document.getElementById('t-events').dataset.value === '22'"
            )
            lines = board.hover("events", 0.999)
            assert lines[0].endswith("UTC · still filling"), lines
            assert all(line.endswith(": " + NO_VALUE) for line in lines[1:]), lines


def test_a_token_is_asked_for_and_then_used(
    gt: Any,
    events: list[Any],
    loaded_store: Store,
    serve_http: Any,
    dashboard: Callable[[str], Dashboard],
) -> None:
    with serve_http(create_app(loaded_store, tokens={"s3cret"})) as client:
        board = dashboard(base(client))
        board.page.goto(board.base + "/")
        board.page.wait_for_function("document.body.dataset.state === 'error'")
        assert "needs a token" in board.page.locator("#banner").inner_text()
        form = board.page.locator("#token")
        assert form.is_visible()
        board.page.locator("#token-input").fill("s3cret")
        board.act(lambda: board.page.locator("#token button").click())
        assert form.is_hidden() and board.page.locator("#banner.down").count() == 0
        start, end = bounds_of(events)
        check_totals(board, gt, gt.truth(events, start, end, "all"))


def test_each_panel_shows_the_query_it_ran(
    api: httpx.Client, dashboard: Callable[[str], Dashboard]
) -> None:
    board = dashboard(base(api))
    board.open("/?range=1h&status_class=5xx")
    for panel in ("totals", *PANELS):
        box = board.page.locator(f'[data-panel="{panel}"] .query')
        assert box.is_hidden()
        board.page.locator(f'[data-panel="{panel}"] .show-query').click()
        assert box.is_visible()
        shown = json.loads(box.locator("pre").inner_text().split("\n\n")[0])
        # the JSON as shown is a query the API answers, with the page's filter
        assert shown["filter"] == {"status_class": "5xx"}
        response = api.post("/api/v1/query", json=shown)
        assert response.status_code == 200, response.text
    board.shoot("queries-shown")


def test_a_range_too_long_to_chart_says_so(
    api: httpx.Client, dashboard: Callable[[str], Dashboard]
) -> None:
    board = dashboard(base(api))
    board.page.goto(board.base + "/?from=2000-01-01T00:00:00Z&to=2015-05-18T00:00:00Z")
    board.page.wait_for_function("document.body.dataset.state === 'error'")
    assert "too long to chart" in board.page.locator("#banner.down").inner_text()
    board.act(lambda: board.page.locator('#presets button[data-range="data"]').click())
    assert board.page.locator("#banner").is_hidden()
    assert set(board.api_statuses) == {200}


def test_pipeline_page_shows_the_status_it_is_given_as_text(
    store: Store, serve_http: Any, dashboard: Callable[[str], Dashboard]
) -> None:
    evil = "<img src=x onerror=window.__pwned=1>"
    component = {
        "component": evil,
        "tasks": 2,
        "emitted": 1234,
        "acked": 1200,
        "failed": 34,
        "executed": 1234,
        "execute_latency_ms": 0.125,
        "capacity": 0.5,
        "complete_latency_ms_p50": 2.0,
        "complete_latency_ms_p99": 9.0,
    }
    status = {
        "time": "2026-12-02T12:00:00Z",
        "workers": {
            "topic": "logs.workers",
            "error": None,
            "snapshots": [
                {
                    "topology": "log-metrics",
                    "worker": 0,
                    "host": evil,
                    "pid": 7,
                    "age_s": 99.0,
                    "stale": True,
                    "components": [component],
                },
            ],
        },
        "lag": {
            "topic": "logs.raw",
            "group": "squall-log-metrics",
            "error": None,
            "total": 5,
            "partitions": [{"partition": 0, "end": 10, "committed": 5, "lag": 5}],
        },
        "collector": {"url": "http://c/metrics", "up": False, "error": "http://c/metrics: refused"},
    }
    with serve_http(create_app(store, pipeline=lambda: status)) as client:
        board = dashboard(base(client))
        board.page.goto(board.base + "/pipeline")
        board.page.wait_for_function("Number(document.body.dataset.refreshes || 0) > 0")
        cells = board.page.locator("#workers tbody tr td").all_inner_texts()
        assert cells[0] == f"log-metrics #0 ({evil}, pid 7) · stale: silent 99 s"
        assert cells[1:] == [
            evil,
            "2",
            "1,234",
            "1,200",
            "34",
            "1,234",
            "50.0 %",
            "0.125",
            "2",
            "9",
        ]
        assert board.page.locator("#lag tbody td").all_inner_texts() == [
            "logs.raw[0]",
            "10",
            "5",
            "5",
        ]
        assert board.page.locator("#lag h2").inner_text() == (
            "consumer lag of squall-log-metrics on logs.raw: 5 records"
        )
        assert (
            "not answering: http://c/metrics: refused"
            in board.page.locator("#collector-tiles").inner_text()
        )
        assert board.page.locator("main img").count() == 0
        assert board.page.evaluate("window.__pwned") is None
        board.shoot("pipeline")


# -- the events panel ----------------------------------------------------------------------

HOSTILE_LINE = '<img src=x onerror="window.__pwned=1"> <b>{i}</b> {route} status {status}'


@pytest.fixture(scope="module")
def events_api(gt: Any, serve_http: Any) -> Iterator[tuple[httpx.Client, list[dict[str, Any]]]]:
    """A store holding 600 events as aggregates and as raw lines (markup in every line)."""
    sample = gt.make_events(600, seed=21)
    store = open_store("duckdb://:memory:")
    store.write(gt.delta_rows(sample, flushes=2))
    raw = [
        {
            "time": (e.time - gt.EPOCH) // timedelta(milliseconds=1),
            "id": f"{i:06d}",
            "route": e.route,
            "status": e.status,
            "service": e.service,
            "line": HOSTILE_LINE.format(i=i, route=e.route, status=e.status),
        }
        for i, e in enumerate(sample)
    ]
    assert store.events is not None
    store.events.write_with_offsets(
        [
            (
                r["time"],
                r["service"],
                r["route"],
                r["status"],
                "GET",
                None,
                None,
                0,
                None,
                r["id"],
                r["line"],
            )
            for r in raw
        ],
        "logs.events",
        {0: 1},
    )
    with serve_http(create_app(store)) as client:
        yield client, raw
    store.close()


def shown_lines(board: Dashboard) -> list[str]:
    return board.page.locator("#event-lines li code").all_inner_texts()


def newest(raw: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    found = sorted((r for r in raw if keep(r)), key=lambda r: (r["time"], r["id"]), reverse=True)
    return [r["line"] for r in found]


def test_events_panel_shows_the_lines_of_the_window_filters_and_search_as_text(
    events_api: tuple[httpx.Client, list[dict[str, Any]]], dashboard: Callable[[str], Dashboard]
) -> None:
    client, raw = events_api
    board = dashboard(base(client))
    board.open()
    everything = newest(raw, lambda r: True)
    assert shown_lines(board) == everything[:100]  # the first page, newest first
    board.page.locator("#more-events").click()  # the next page, by the cursor
    board.page.wait_for_function("document.querySelectorAll('#event-lines li').length > 100")
    assert shown_lines(board) == everything[:200]
    # markup in a line is text: nothing ran, no element was made of it
    assert board.page.evaluate("window.__pwned === undefined")
    assert board.page.locator("#event-lines img, #event-lines b").count() == 0

    # the search box: a case-insensitive word, kept in the URL
    board.page.locator("#q").fill("STATUS 5")
    board.act(lambda: board.page.locator("#search button").click())
    assert board.state()["q"] == ["STATUS 5"]
    assert shown_lines(board) == newest(raw, lambda r: r["status"] >= 500)[:100]

    # a row of the top-routes table narrows the lines to that route
    route = board.table("top-route")[0][0]
    board.act(lambda: board.page.locator('[data-panel="top-route"] tbody tr').first.click())
    want = newest(raw, lambda r: r["status"] >= 500 and r["route"] == route)
    assert want and shown_lines(board) == want[:100]

    # a click on a chart's point narrows everything to that minute
    over = board.page.locator('[data-panel="events"] .u-over')
    over.scroll_into_view_if_needed()  # the table's click scrolled the page down
    box = over.bounding_box()
    assert box is not None
    board.act(
        lambda: board.page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    )
    state = board.state()
    start, end = (
        int(datetime.fromisoformat(state[k][0]).timestamp() * 1000) for k in ("from", "to")
    )
    assert end - start == 60_000 and state["route"] == [route]
    in_minute = newest(
        raw, lambda r: r["status"] >= 500 and r["route"] == route and start <= r["time"] < end
    )
    assert shown_lines(board) == in_minute[:100]
    if not in_minute:
        assert board.page.locator("#events-note").inner_text() == "No lines match in this window."
    assert set(board.api_statuses) == {200}, board.api_statuses
    assert not board.errors, board.errors
    board.shoot("events-panel")


def test_a_bad_regex_is_said_in_the_events_panel(
    events_api: tuple[httpx.Client, list[dict[str, Any]]], dashboard: Callable[[str], Dashboard]
) -> None:
    client, _raw = events_api
    board = dashboard(base(client))
    board.open("/?q=%28open&re=1")
    note = board.page.locator("#events-note")
    assert "is not valid" in note.inner_text()
    assert board.page.locator("#q-regex").is_checked()
    assert shown_lines(board) == []
    assert board.page.locator("#banner").is_hidden()  # the charts are fine
