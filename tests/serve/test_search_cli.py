"""``squall search`` against a live query API: lines printed as sent, newest first,
paged through the cursor; ``--json``; clear errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from squall.cli import main
from squall.serve.app import create_app
from squall.serve.store import Store, open_store

T0 = 1_431_907_200_000  # 2015-05-18T00:00:00Z
DAY = "2015-05-18/2015-05-19"


def row(i: int, status: int, line: str) -> tuple[Any, ...]:
    return (T0 + i * 1000, "web", "/x", status, "GET", None, None, 1, "h", f"id{i:04d}", line)


LINES = [
    row(i, 500 if i % 3 == 0 else 200, f'1.2.3.4 - - "GET /x" Timeout <b>{i}</b>')
    for i in range(250)
]


@pytest.fixture(scope="module")
def url(serve_http: Callable[[object], Any]) -> Iterator[str]:
    store: Store = open_store("duckdb://:memory:")
    assert store.events is not None
    store.events.write_with_offsets(LINES, "logs.events", {0: 1})
    with serve_http(create_app(store)) as client:
        yield str(client.base_url)
    store.close()


def test_lines_are_printed_as_sent_newest_first_across_pages(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["search", "timeout", "--url", url, "--interval", DAY, "-f", "status=500", "-n", "0"]
    )
    assert code == 0
    want = [r[-1] for r in reversed(LINES) if r[3] == 500]
    assert capsys.readouterr().out.splitlines() == want


def test_limit_and_json(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--url", url, "--interval", DAY, "-n", "3", "--json"]) == 0
    events = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [e["id"] for e in events] == ["id0249", "id0248", "id0247"]
    assert events[0]["timestamp"] == "2015-05-18T00:04:09Z" and events[0]["status"] == 500


def test_errors_say_what_to_do(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--url", url, "--interval", DAY, "--regex", "(open"]) == 1
    assert "regex '(open' is not valid" in capsys.readouterr().err
    assert main(["search", "--url", url, "-f", "nodim"]) == 1
    assert "is not DIM=VALUE" in capsys.readouterr().err
    assert main(["search", "--url", url, "--last", "yesterday"]) == 1
    assert "--last 'yesterday' is not a span" in capsys.readouterr().err
    assert main(["search", "--url", "http://127.0.0.1:9", "--last", "1h"]) == 1
    assert "cannot reach the query API" in capsys.readouterr().err
