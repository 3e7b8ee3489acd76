"""The dashboard open in a real browser while the whole pipeline runs: it starts empty,
follows a replay of old logs as they arrive (live mode), and ends showing what the logs
say, counted here from the file itself. Debian's chromium through Playwright."""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import Pipeline

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
