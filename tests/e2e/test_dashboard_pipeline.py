"""The dashboard open in a real browser while the whole pipeline runs: it starts empty,
follows a replay of old logs as they arrive (live mode), and ends showing what the logs
say, counted here from the file itself. Debian's chromium through Playwright."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import Pipeline, wait_for

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CLF = re.compile(r'^\S+ \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) (\d+|-)')


@pytest.fixture
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the browser tests need chromium in CI (make system-packages)")
        pytest.skip("chromium is not installed (make system-packages)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser.new_page(viewport={"width": 1400, "height": 1000})
        browser.close()


def test_dashboard_follows_a_replay_while_the_pipeline_runs(
    pipeline: Pipeline,
    apache_log_lines: list[str],
    page: Any,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{pipeline.serve}/?refresh=1")
    page.wait_for_function("Number(document.body.dataset.refreshes || 0) > 0")
    empty = page.locator('[data-panel="events"] .empty')
    assert empty.inner_text().startswith("No data yet")

    pipeline.post_lines(apache_log_lines, service="web")
    total = len(apache_log_lines)
    page.wait_for_function(
        f"document.getElementById('t-events').dataset.value === '{total}'", timeout=180_000
    )

    # ground truth from the file: the replay's span, and events per status
    stamps, statuses = [], Counter()
    for line in apache_log_lines:
        m = CLF.match(line)
        assert m, line
        stamps.append(datetime.strptime(m[1], "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC))
        statuses[m[4]] += 1
    # the default window is the replay's whole span (4 days: hourly buckets)
    first = min(stamps).replace(minute=0, second=0, microsecond=0)
    last = max(stamps).replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = last if last.minute == 0 else last.replace(minute=0) + timedelta(hours=1)
    label = page.locator("#window-label").inner_text()
    assert label == f"{first:%Y-%m-%d %H:%M} \u2013 {end:%Y-%m-%d %H:%M} UTC, per hour"
    rows = page.locator('[data-panel="top-status"] tbody tr')
    shown = [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]
    want = sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(r[0], int(r[2].replace(",", ""))) for r in shown] == want
    assert page.locator('[data-panel="top-service"] tbody tr td').first.inner_text() == "web"
    # combined logs carry no latency: the panel says so
    latency = page.locator('[data-panel="latency"] .empty').inner_text()
    assert latency.startswith(f"No latency in these logs: none of the {total:,} events")
    assert page.locator("#banner").is_hidden()
    assert not errors, errors

    path = Path(tmp_path_factory.mktemp("dashboard-screenshots")) / "replay.png"
    page.screenshot(path=str(path), full_page=True)
    with capsys.disabled():
        print(f"\nscreenshot: {path}")


def test_pipeline_page_and_squall_status_show_the_running_pipeline(
    pipeline: Pipeline, apache_log_lines: list[str], page: Any
) -> None:
    """After a replay: logs.raw holds every line and the topology's group has committed
    them all (no lag), the collector accepted every line, the worker's snapshot shows
    every spout tuple (a batch of records) parsed and acked; the page and ``squall
    status`` show the same."""
    total = len(apache_log_lines)
    pipeline.post_lines(apache_log_lines, service="web")

    def component(status: dict[str, Any], name: str) -> dict[str, Any]:
        (worker,) = status["workers"]["snapshots"]
        found: dict[str, Any] = next(c for c in worker["components"] if c["component"] == name)
        return found

    def settled() -> bool:
        status = pipeline.http.get(f"{pipeline.serve}/api/v1/pipeline").json()
        if len(status["workers"]["snapshots"]) != 1:
            return False
        spout, parse = component(status, "events"), component(status, "parse")
        return (
            sum(p["end"] for p in status["lag"]["partitions"]) == total
            and status["lag"]["total"] == 0
            and status["collector"]["accepted_events"] == total
            and spout["emitted"] > 0
            and spout["acked"] == spout["emitted"] == parse["executed"]
        )

    wait_for(settled, 120, "the workers' snapshots, the lag and the collector to settle")
    status = pipeline.http.get(f"{pipeline.serve}/api/v1/pipeline").json()
    (worker,) = status["workers"]["snapshots"]
    assert worker["topology"] == "log-metrics" and not worker["stale"]
    spout = component(status, "events")
    assert spout["failed"] == 0 and component(status, "parse")["failed"] == 0

    page.goto(f"{pipeline.serve}/pipeline")
    page.wait_for_function("Number(document.body.dataset.refreshes || 0) > 0")
    rows = page.locator("#workers tbody tr")
    shown = {
        r[1]: r for r in (rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count()))
    }
    assert shown["events"][3] == f"{spout['emitted']:,}" == shown["events"][4]  # emitted, acked
    assert shown["parse"][6] == f"{spout['emitted']:,}"  # executed
    assert page.locator("#lag h2").inner_text().endswith(": 0 records")
    lag_rows = page.locator("#lag tbody tr")
    assert lag_rows.count() == len(status["lag"]["partitions"])
    tiles = page.locator("#collector-tiles .value")
    assert tiles.first.get_attribute("data-value") == str(total)

    out = subprocess.run(
        [sys.executable, "-m", "squall", "status"],
        env=pipeline.parts.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert f"accepted {total:,} events" in out.stdout
    lag = status["lag"]  # on Kafka, the run's own group and topic
    assert f"consumer lag of {lag['group']} on {lag['topic']}: 0" in out.stdout
    assert "worker log-metrics #0" in out.stdout


HOSTILE_SERVICE = '<img src=x onerror="window.__pwned=1">'
HOSTILE_LINES = [
    # a path and a user agent carrying markup, in a combined log line
    '10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /<script>window.__pwned=2</script> '
    'HTTP/1.1" 500 7 "-" "<script>window.__pwned=3</script><img src=x onerror=window.__pwned=4>"',
    '10.0.0.2 - - [17/May/2015:10:06:03 +0000] "GET /x><svg/onload=window.__pwned=5> HTTP/1.1" '
    '200 9 "-" "Mozilla/5.0 <b onmouseover=window.__pwned=6>x</b>"',
]
HOSTILE_EVENTS = [
    {
        "ts": "2015-05-17T10:07:00Z",
        "service": "<script>window.__pwned=7</script>",
        "method": "GET",
        "path": '/a"><iframe src="javascript:window.top.__pwned=8">',
        "status": 503,
        "bytes": 11,
        "user": "<svg onload=window.__pwned=9>",
    }
]


def test_markup_posted_to_the_collector_is_shown_as_text_and_runs_nothing(
    tmp_path: Path, page: Any
) -> None:
    """Routes, services and user agents with markup, through the collector, topology and
    store: the dashboard shows them as the API returns them, as text; no payload runs."""
    p = Pipeline(tmp_path)
    try:
        for name in ("collector", "topology", "serve"):
            p.start(name)
        p.post_lines(HOSTILE_LINES, service=HOSTILE_SERVICE)
        p.post_events(HOSTILE_EVENTS)
        total = len(HOSTILE_LINES) + len(HOSTILE_EVENTS)
        wait_for(lambda: p.total_events() == total, 120, "the events in the query API")
        top = {"queryType": "topN", "metric": "events", "threshold": 10}
        routes = sorted(r["route"] for r in p.query(**top, dimension="route"))
        services = sorted(r["service"] for r in p.query(**top, dimension="service"))
        assert services == sorted([HOSTILE_SERVICE, HOSTILE_EVENTS[0]["service"]])
        assert any("<script>" in r for r in routes) and any("<iframe" in r for r in routes)

        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{p.serve}/?refresh=1")
        page.wait_for_function(
            f"document.getElementById('t-events').dataset.value === '{total}'", timeout=60_000
        )

        def column(panel: str) -> list[str]:
            cells = page.locator(f'[data-panel="{panel}"] tbody tr td:first-child')
            return sorted(cells.all_inner_texts())

        assert column("top-route") == routes
        assert column("top-service") == services
        tags = "main img, main script, main svg, main iframe, main b, #chips img, #chips svg"
        assert page.locator(tags).count() == 0  # no element was made of a value
        page.locator('[data-panel="top-route"] tbody tr').first.hover()
        assert page.evaluate("window.__pwned") is None
        assert not errors, errors
    finally:
        p.stop()
