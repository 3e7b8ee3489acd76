"""The dashboard in a real headless browser: its script runs, queries the API and shows
the numbers the API gives. Needs chromium (skipped without it, except in CI)."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from datetime import timedelta
from typing import Any

import pytest

from squall.serve.app import create_app
from squall.serve.store import Store

BROWSER = next(
    (shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)),
    None,
)


@pytest.fixture
def browser() -> str:
    if BROWSER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the browser test needs chromium in CI")
        pytest.skip("chromium is not installed")
    return BROWSER


def rendered(browser: str, url: str) -> str:
    """The page's DOM after its script ran (virtual time lets the fetches finish)."""
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=8000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_dashboard_shows_what_the_data_says(
    gt: Any, browser: str, serve_http: Any, loaded_store: Store, events: list[Any]
) -> None:
    with serve_http(create_app(loaded_store)) as client:
        dom = rendered(browser, str(client.base_url) + "/")
    last = max(e.time for e in events).replace(second=0, microsecond=0)
    assert f"data through {gt.iso(last)}" in dom
    # the page shows the last hour that has data: the top routes of that hour by events
    end = last + timedelta(minutes=1)
    want = gt.truth(events, end - timedelta(hours=1), end, "all", ("route",))
    top = sorted(want.items(), key=lambda kv: (-kv[1].events, kv[0][1]))[:10]
    body = dom[dom.index('id="routes"') :]
    cells = [
        [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body[: body.index("</tbody>")])
    ]
    assert [c[0] for c in cells] == [key[1] for key, _ in top]
    assert [int(c[1].replace(",", "")) for c in cells] == [g.events for _, g in top]
    total = sum(g.events for g in want.values())
    assert re.search(rf'id="window-events">{total:,}<', dom)
    for chart in ("eps", "err", "p95", "users"):  # each chart drew a line
        assert re.search(rf'<svg id="{chart}"[^>]*>.*?<path d="M', dom, re.S), chart
