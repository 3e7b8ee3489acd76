"""``squall search``: the search API from the command line, lines printed as they were sent.

It is a client of ``POST /api/v1/search`` on the query API (``squall serve`` or the
demo, at SQUALL_SERVE_HOST:SQUALL_SERVE_PORT or ``--url``): the embedded store is held by
the serving process, so going through its API is the one way that always works.
Pages are followed with the cursor until ``--limit`` lines are printed (0: all).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import httpx
import orjson

from squall.serve.cli import serve_settings
from squall.serve.exceptions import InvalidQuery, ServeError, StoreUnavailable
from squall.serve.search import MAX_LIMIT

__all__ = ["build_body", "run_search"]

_SPAN = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _interval(args: argparse.Namespace, now: datetime) -> str:
    if args.interval:
        return str(args.interval)
    m = _SPAN.fullmatch(args.last.strip())
    if not m:
        raise InvalidQuery(f"--last {args.last!r} is not a span; give e.g. 30s, 15m, 1h or 7d")
    start = now - timedelta(**{_UNITS[m[2]]: int(m[1])})
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return f"{start.strftime(fmt)}/{(now + timedelta(milliseconds=1)).strftime(fmt)}"


def build_body(args: argparse.Namespace, now: datetime | None = None) -> dict[str, Any]:
    """The search request the flags describe (without limit and cursor)."""
    body: dict[str, Any] = {"interval": _interval(args, now or datetime.now(UTC))}
    filters: dict[str, list[str]] = {}
    for item in args.filter:
        dim, sep, value = item.partition("=")
        if not sep or not dim:
            raise InvalidQuery(f"--filter {item!r} is not DIM=VALUE, e.g. status_class=5xx")
        filters.setdefault(dim.strip(), []).append(value)
    if filters:
        body["filter"] = filters
    if args.text and args.regex:
        raise InvalidQuery("give TEXT or --regex, not both")
    if args.text:
        body["contains"] = args.text
    if args.regex:
        body["regex"] = args.regex
    return body


def run_search(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.limit < 0:
        raise InvalidQuery("--limit must be 0 (every match) or more")
    settings = serve_settings(args)
    url = (args.url or f"http://{settings.serve_host}:{settings.serve_port}").rstrip("/")
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    body = build_body(args)
    left = args.limit or None
    with httpx.Client(base_url=url, headers=headers, timeout=60.0) as client:
        while True:
            body["limit"] = min(left, MAX_LIMIT) if left else MAX_LIMIT
            page = _post(client, url, body)
            for event in page["events"]:
                out.write(orjson.dumps(event).decode() if args.json else event["line"])
                out.write("\n")
            if left is not None:
                left -= len(page["events"])
            if page["next"] is None or left == 0:
                return 0
            body["cursor"] = page["next"]


def _post(client: httpx.Client, url: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = client.post("/api/v1/search", json=body)
    except httpx.HTTPError as exc:
        raise StoreUnavailable(
            f"cannot reach the query API at {url} ({exc}); is `squall serve` (or the demo) "
            "running? Give its address with --url."
        ) from exc
    if response.status_code != 200:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        cls = InvalidQuery if response.status_code == 400 else ServeError
        raise cls(f"the query API answered {response.status_code}: {message}")
    page: dict[str, Any] = response.json()
    return page
