"""The dashboard's speed: first render in a real browser, and each panel's query latency.

1. A DuckDB store holding ``--hours`` of aggregate rows as the log-metrics topology writes
   them for ``--rate`` events/s spread over 3 services x 3 methods x 7 routes x 6 statuses
   (378 rows a minute; 24 hours: 544,320 rows). Every row's counts are its own; its two
   sketches come from a pool of ``POOL`` sketches built from ``rate * 60 / 378`` values
   each, since building half a million sketch pairs in Python would take far longer than
   the benchmark, and a query's cost is the number and size of the sketches it merges,
   not which ones they are.
2. The query API over it (uvicorn in a thread) and the page in Debian's chromium, driven
   by Playwright: first render = navigation start to every panel drawn (the page's
   first refresh done), ``--loads`` times; the first load is cold.
3. Every query the page sent in one refresh, captured from the browser, replayed
   ``--rounds`` times each through the API: p50 / p99 per panel. Then again with a
   filter (``--filtered``, default ``service=web``), 3 rounds.

With ``--url`` it measures a running query API instead, and builds no store. With
``--druid`` it puts the same rows into real Druid (the local stack, ``squall stack up``):
they are produced to a Kafka topic of this run's own, a Kafka supervisor ingests them
into a datasource of this run's own, and once Druid counts every event the query API
runs in this process on that datasource; the supervisor and datasource are removed at the
end (``--keep`` keeps them and prints their names; ``--datasource`` measures a kept one).

    python -m bench dashboard [--hours 24] [--rate 2000] [--rounds 50] [--loads 5]
                              [--range 24h] [--filtered service=web]
                              [--url http://127.0.0.1:8200 | --druid [--keep]
                               | --datasource NAME]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from datasketches import hll_sketch, quantiles_doubles_sketch, tgt_hll_type

from bench.common import machine, rss_mib
from squall.schema import HLL_LG_K, QUANTILES_K
from squall.serve.app import create_app
from squall.serve.store import open_store

SERVICES = ("web", "api", "auth")
METHODS = ("GET", "POST", "PUT")
ROUTES = ("/", "/users/:id", "/orders/:id", "/login", "/static/app.js", "/search", "/cart")
STATUSES = ("200", "201", "304", "404", "500", "503")
POOL = 64


def _sketch_pool(per_row: int, rng: random.Random) -> list[tuple[str, str]]:
    pool = []
    for _ in range(POOL):
        latency = quantiles_doubles_sketch(QUANTILES_K)
        users = hll_sketch(HLL_LG_K, tgt_hll_type.HLL_4)
        for _ in range(per_row):
            latency.update(rng.lognormvariate(3.5, 0.8))
            users.update(f"user-{rng.randrange(50_000)}")
        pool.append(
            (
                base64.b64encode(latency.serialize()).decode(),
                base64.b64encode(users.serialize_compact()).decode(),
            )
        )
    return pool


def _rows(end: datetime, hours: float, rate: float, rng: random.Random) -> Iterator[dict[str, Any]]:
    keys = [(s, m, r, st) for s in SERVICES for m in METHODS for r in ROUTES for st in STATUSES]
    per_row = max(1, round(rate * 60 / len(keys)))
    pool = _sketch_pool(per_row, rng)
    minutes = int(hours * 60)
    for i in range(minutes):
        at = (end - timedelta(minutes=minutes - i)).strftime("%Y-%m-%dT%H:%M:00Z")
        for service, method, route, status in keys:
            events = max(1, int(rng.gauss(per_row, per_row**0.5)))
            latency, users = pool[rng.randrange(POOL)]
            yield {
                "time": at,
                "service": service,
                "method": method,
                "route": route,
                "status_class": status[0] + "xx",
                "status": status,
                "events": events,
                "errors": events if status >= "500" else 0,
                "bytes": events * rng.randrange(200, 20_000),
                "latency_count": events,
                "latency_sum": events * 40.0,
                "latency_min": 1.0,
                "latency_max": 900.0,
                "latency_sketch": latency,
                "users_sketch": users,
            }


@contextmanager
def _served(store_url: str) -> Iterator[str]:
    store = open_store(store_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(store), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)  # polling uvicorn's started flag
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        store.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _measure(url: str, args: argparse.Namespace) -> None:
    _measure_page(url, args, f"range={args.range}&live=0", args.rounds)
    if args.filtered:
        # a filter moves the sketch merges to a bigger projection (service: minute x service
        # x route) or to the full table (status_class): fewer rounds, they are slow
        _measure_page(url, args, f"range={args.range}&live=0&{args.filtered}", 3)


def _measure_page(url: str, args: argparse.Namespace, state: str, rounds: int) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("   chromium is not installed (make system-packages): no browser figures")
        return
    page_url = f"{url}/?{state}"
    sent: list[dict[str, Any]] = []
    renders = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for i in range(args.loads):
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            if i == 0:
                page.on(
                    "request",
                    lambda r: (
                        sent.append(json.loads(r.post_data))
                        if r.url.endswith("/api/v1/query") and r.post_data
                        else None
                    ),
                )
            page.goto(page_url)
            page.wait_for_function(
                "Number(document.body.dataset.refreshes || 0) > 0", timeout=120_000
            )
            took = page.evaluate("performance.now()")  # ms since navigation start
            renders.append(took)
            context.close()
        browser.close()
    print(
        f"   /?{state}: first render cold {renders[0]:.0f} ms; "
        f"warm median {statistics.median(renders[1:] or renders):.0f} ms over {len(renders)} loads"
    )
    with httpx.Client(base_url=url, timeout=60) as client:
        for body in sent:
            took = []
            for _ in range(rounds):
                began = time.perf_counter()
                response = client.post("/api/v1/query", json=body)
                took.append((time.perf_counter() - began) * 1e3)
                response.raise_for_status()
            what = body["queryType"] + (
                f" {body.get('dimension') or ','.join(body.get('dimensions', []))}"
                if body["queryType"] != "timeseries"
                else ""
            )
            print(
                f"   {what:<24} {body['granularity']:<7} {','.join(body['metrics'])[:44]:<44} "
                f"p50 {_pct(took, 0.5):7.1f} ms  p99 {_pct(took, 0.99):7.1f} ms"
            )


def _build(path: Path, args: argparse.Namespace) -> None:
    began = time.perf_counter()
    store = open_store(f"duckdb://{path}")
    rng = random.Random(1)
    end = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    batch: list[dict[str, Any]] = []
    count = 0
    for row in _rows(end, args.hours, args.rate, rng):
        batch.append(row)
        if len(batch) == 20_000:
            store.write(batch)
            count += len(batch)
            batch.clear()
    store.write(batch)
    count += len(batch)
    store.close()
    print(
        f"   store: {count:,} rows ({args.hours:g} h at {args.rate:,.0f} events/s), "
        f"{path.stat().st_size / 2**20:.0f} MiB, built in {time.perf_counter() - began:.0f} s"
    )


def _druid(args: argparse.Namespace) -> None:
    import uuid
    from dataclasses import replace

    import orjson

    from squall.broker import ensure_topics, open_broker
    from squall.deploy.stack import druid
    from squall.settings import load_settings

    stack = load_settings(overrides={"broker": "kafka://127.0.0.1:9092"})
    if not druid.healthy(8888):  # the router: what the store and the supervisor go through
        print("   Druid's router does not answer: start the stack with `squall stack up`")
        return
    tag = uuid.uuid4().hex[:8]
    s = replace(
        stack,
        topic_metrics=f"bench.dashboard.{tag}",
        datasource=args.datasource or f"bench_dashboard_{tag}",
    )
    store_url = f"druid://127.0.0.1:8888/{s.datasource}"
    if not args.datasource:
        began = time.perf_counter()
        end = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
        total = count = 0
        with open_broker(s.broker_url) as broker:
            ensure_topics(broker, s)
            producer = broker.producer()
            for row in _rows(end, args.hours, args.rate, random.Random(1)):
                producer.send(s.topic_metrics, orjson.dumps(row), key=row["service"].encode())
                total += row["events"]
                count += 1
            producer.flush()
            producer.close()
        print(
            f"   produced {count:,} rows to {s.topic_metrics} "
            f"in {time.perf_counter() - began:.0f} s"
        )
        druid.submit_supervisor(s)
        _await_druid(store_url, total, began)
    try:
        with _served(store_url) as url:
            _measure(url, args)
    finally:
        if args.keep or args.datasource:
            print(f"   kept datasource {s.datasource} (topic {s.topic_metrics})")
        else:
            druid.terminate_supervisor(s)
            druid.drop_datasource(s)


def _await_druid(store_url: str, total: int, began: float) -> None:
    """Wait until Druid counts every event of the rows produced (ingested, queryable)."""
    from squall.serve.exceptions import ServeError
    from squall.serve.query import parse_query

    store = open_store(store_url)
    query = parse_query(
        {"queryType": "timeseries", "interval": "2000-01-01/2100-01-01", "metrics": ["events"]}
    )
    seen = -1
    try:
        while seen < total:
            time.sleep(10)  # polling Druid's own count: nothing to wait on instead
            try:
                rows = store.query(query)
            except ServeError as exc:  # not there yet: Druid is still starting the task
                print(f"   waiting for Druid: {exc}"[:160])
                continue
            seen = rows[0]["events"] if rows else 0
            print(
                f"   Druid counts {seen:,} of {total:,} events "
                f"({time.perf_counter() - began:.0f} s)"
            )
    finally:
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard", description=__doc__)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="events/s the rows stand for")
    parser.add_argument("--rounds", type=int, default=50, help="times each query is replayed")
    parser.add_argument("--loads", type=int, default=5, help="page loads for first render")
    parser.add_argument("--range", default="24h", help="the page's time preset")
    parser.add_argument("--url", help="measure this running query API instead")
    parser.add_argument("--druid", action="store_true", help="the rows in the local stack's Druid")
    parser.add_argument("--keep", action="store_true", help="with --druid: keep the datasource")
    parser.add_argument("--datasource", help="with --druid: measure this kept datasource")
    parser.add_argument(
        "--filtered",
        default="service=web",
        help="URL state of a second, filtered measurement ('' for none)",
    )
    parser.add_argument(
        "--store", type=Path, help="keep the DuckDB file here (reused if it exists)"
    )
    args = parser.parse_args(argv)
    print(f"dashboard: {machine()}")
    if args.url:
        _measure(args.url.rstrip("/"), args)
        return
    if args.druid or args.datasource:
        _druid(args)
        return
    with tempfile.TemporaryDirectory(prefix="squall-bench-") as tmp:
        path = args.store or Path(tmp) / "metrics.duckdb"
        if path.exists():
            print(f"   store: {path} as it is ({path.stat().st_size / 2**20:.0f} MiB)")
        else:
            _build(path, args)
        with _served(f"duckdb://{path}") as url:
            _measure(url, args)
        print(f"   RSS of this process (store, API, Playwright driver client): {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
