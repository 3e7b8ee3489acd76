"""Raw-event search: what keeping the events costs the worker, and how fast search is.

1. Worker rate: the log-metrics topology in one worker (in this process, on a fresh
   local log, as bench/pipeline.py runs it) over ``--events`` events (apache_logs lines
   and generated JSON lines, half each), with events off (the baseline, SQUALL_EVENTS=0)
   and on, alternately ``--rounds`` times; prints the best rate of each and the ratio
   (target: on >= 80 % of off).
2. Loading: events decoded from ``logs.events`` records and written to DuckDB by the
   event loader's path (decode_events + write_with_offsets), events/s.
3. Search on DuckDB with ``--stored`` events (default 10 million, over 24 hours, made in
   SQL in time order as the loader appends them): the first page (100 events) of
   "one hour, service=web, a word" at ``--queries`` random hours; p50/p99, and as a
   baseline the same hour without filter or word. Storage per million events (the
   DuckDB file after a checkpoint).

    python -m bench search [--events 200000] [--rounds 2] [--stored 10000000] [--queries 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
import orjson

from bench.common import machine
from bench.pipeline import _events, timed_worker
from squall.broker import TopicPartition, ensure_topics, open_broker
from squall.compute.topologies.log_metrics.events import EventEncoder
from squall.compute.topologies.log_metrics.parse import ParsedEvent, parse_event
from squall.deploy.stack import druid
from squall.gc_tuning import WORKER_THRESHOLDS, frozen_gc
from squall.serve.druid_events import DruidEvents
from squall.serve.duckdb_store import DuckDBStore
from squall.serve.search import EventStore, parse_search, search_page
from squall.settings import load_settings

HOUR_MS = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def worker_rate(events: list[tuple[dict[str, str], str]], on: bool) -> float:
    """Events/s of one worker from its first commit until every event is committed."""
    n = len(events)
    with tempfile.TemporaryDirectory() as tmp, frozen_gc(WORKER_THRESHOLDS):
        settings = replace(load_settings(overrides={"data_dir": Path(tmp)}), events=on)
        with open_broker(settings.broker_url) as broker:
            ensure_topics(broker, settings)
            first, elapsed = timed_worker(broker, settings, events)
            if on:
                ends = broker.end_offsets(
                    TopicPartition(settings.topic_events, p)
                    for p in range(broker.partitions(settings.topic_events))
                )
                assert sum(ends.values()) > 0, "events on, but logs.events is empty"
    return (n - first) / elapsed


def loading_rate(events: list[tuple[dict[str, str], str]]) -> float:
    """Events/s the event loader's store write takes (DuckDB's JSON reader, 20 records
    of up to 256 events a batch, as one poll brings)."""
    encoder = EventEncoder()
    for i, (headers, body) in enumerate(events):
        parsed = parse_event(headers, body)
        if isinstance(parsed, ParsedEvent):
            encoder.add(parsed, headers, f"e{i}", body)
    records = [value for _key, value in encoder.drain()]
    store = DuckDBStore(":memory:")
    try:
        start = time.perf_counter()
        loaded = 0
        for i in range(0, len(records), 20):
            added, _bad = store.events.write_records(records[i : i + 20], "logs.events", {0: i})
            loaded += added
        return loaded / (time.perf_counter() - start)
    finally:
        store.close()


_FILL = f"""
INSERT INTO log_events
SELECT {T0} + (i * 86400000 // $n) AS time,
       ['web', 'api', 'auth', 'search'][1 + i % 4] AS service,
       ['/', '/users/:id', '/orders/:id', '/login', '/static/app.js'][1 + (i // 7) % 5] AS route,
       [200, 200, 200, 201, 304, 404, 500, 503][1 + (i // 3) % 8] AS status,
       ['GET', 'POST', 'PUT'][1 + (i // 11) % 3] AS method,
       'user-' || (i % 5000) AS "user",
       (i % 997) / 10.0 AS latency_ms,
       (i * 7919) % 50000 AS bytes,
       'collector-' || (i % 3) AS host,
       lpad(to_hex(hash(i)), 16, '0') AS id,
       '10.' || (i % 256) || '.' || (i // 256 % 256) || '.1 - - [01/Jan/2026] "' ||
       ['GET', 'POST', 'PUT'][1 + (i // 11) % 3] || ' ' ||
       ['/', '/users/', '/orders/', '/login', '/static/app.js'][1 + (i // 7) % 5] ||
       (i % 100000) || ' HTTP/1.1" ' || [200, 200, 200, 201, 304, 404, 500, 503][1 + (i // 3) % 8]
       || ' ' || ((i * 7919) % 50000) || ' "-" "' ||
       ['Mozilla/5.0 (X11; Linux x86_64) Firefox/115.0', 'curl/8.5.0',
        'Mozilla/5.0 (Macintosh) Safari/605.1.15', 'Googlebot/2.1', 'python-httpx/0.28',
        'Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 timeout-retry'][1 + (i // 13) % 6] || '"'
       AS line
FROM range($n) t(i)
"""


def search_bench(stored: int, queries: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.duckdb"
        store = DuckDBStore(path)
        began = time.perf_counter()
        cur = store._con.cursor()  # the store's own connection: DuckDB allows one writer
        cur.execute(_FILL, {"n": stored})
        cur.execute("CHECKPOINT")
        cur.close()
        made = time.perf_counter() - began
        size = path.stat().st_size + sum(
            p.stat().st_size for p in Path(tmp).glob("events.duckdb.wal")
        )
        print(f"   {stored:,} events stored over 24 h in {made:.0f} s (SQL, in time order)")
        print(
            f"   DuckDB storage: {size / 2**20:,.0f} MiB, "
            f"{size / 2**20 / (stored / 1e6):,.1f} MiB per million events"
        )
        _search_figures("DuckDB", store.events, queries)
        store.close()


def _search_figures(kind: str, events: EventStore, queries: int) -> None:
    rng = random.Random(1)
    hours = [rng.randrange(24) for _ in range(queries)]
    for label, extra in (
        ("one hour, no filter (baseline)", {}),
        (
            "one hour, service=web, contains 'firefox'",
            {"filter": {"service": "web"}, "contains": "firefox"},
        ),
        (
            "one hour, 5xx, regex 'timeout-\\w+'",
            {"filter": {"status_class": "5xx"}, "regex": r"timeout-\w+"},
        ),
    ):
        times = []
        found = 0
        for hour in hours:
            start = T0 + hour * HOUR_MS
            body = {
                "interval": f"{_iso(start)}/{_iso(start + HOUR_MS)}",
                "limit": 100,
                **extra,
            }
            query = parse_search(body)
            began = time.perf_counter()
            page = search_page(events, query)
            times.append(time.perf_counter() - began)
            found += len(page["events"])
            assert page["events"], f"the bench search {body} found nothing"
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            f"   {kind} search first page, {label}: p50 "
            f"{statistics.median(times) * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms "
            f"({queries} queries, {found // queries} events/page)"
        )


_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/115.0",
    "curl/8.5.0",
    "Mozilla/5.0 (Macintosh) Safari/605.1.15",
    "Googlebot/2.1",
    "python-httpx/0.28",
    "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 timeout-retry",
)
_SERVICES = ("web", "api", "auth", "search")
_ROUTES = ("/", "/users/:id", "/orders/:id", "/login", "/static/app.js")
_PATHS = ("/", "/users/", "/orders/", "/login", "/static/app.js")
_STATUSES = (200, 200, 200, 201, 304, 404, 500, 503)
_METHODS = ("GET", "POST", "PUT")


def _druid_records(first: int, count: int, n: int) -> list[tuple[bytes, bytes]]:
    """Events ``first .. first + count`` of the SQL generator's ``n`` (``_FILL``), as the
    topology's NDJSON records (made a chunk at a time: 10 million do not fit in memory)."""
    by_service: dict[str, list[bytes]] = {s: [] for s in _SERVICES}
    dumps = orjson.dumps
    for i in range(first, first + count):
        status, method = _STATUSES[(i // 3) % 8], _METHODS[(i // 11) % 3]
        size = (i * 7919) % 50000
        line = (
            f'10.{i % 256}.{i // 256 % 256}.1 - - [01/Jan/2026] "{method} '
            f'{_PATHS[(i // 7) % 5]}{i % 100000} HTTP/1.1" {status} {size} "-" '
            f'"{_AGENTS[(i // 13) % 6]}"'
        )
        service = _SERVICES[i % 4]
        by_service[service].append(
            dumps(
                {
                    "time": T0 + i * 86_400_000 // n,
                    "service": service,
                    "route": _ROUTES[(i // 7) % 5],
                    "status": status,
                    "method": method,
                    "user": f"user-{i % 5000}",
                    "latency_ms": (i % 997) / 10.0,
                    "bytes": size,
                    "host": f"collector-{i % 3}",
                    "id": f"{i:016x}",
                    "line": line,
                }
            )
        )
    return [
        (service.encode(), b"\n".join(lines[j : j + 256]))
        for service, lines in by_service.items()
        for j in range(0, len(lines), 256)
    ]


def _druid_sql(client: httpx.Client, sql: str, *params: object) -> list[dict[str, object]]:
    body = {"query": sql, "parameters": [{"type": "VARCHAR", "value": p} for p in params]}
    answer = client.post("/druid/v2/sql/", json=body)
    answer.raise_for_status()
    rows: list[dict[str, object]] = answer.json()
    return rows


def druid_bench(n: int, queries: int, kafka: str) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = replace(
        load_settings(overrides={"broker": f"kafka://{kafka}"}),
        topic_events=f"bench.events.{tag}",
        events_datasource=f"bench_events_{tag}",
        events_retention_days=0,
    )
    began = time.perf_counter()
    with open_broker(settings.broker_url) as broker:
        broker.create_topic(settings.topic_events, 3)
        producer = broker.producer()
        for first in range(0, n, 100_000):
            for key, value in _druid_records(first, min(100_000, n - first), n):
                producer.send(settings.topic_events, value, key=key)
        producer.flush()
        producer.close()
    print(f"   Druid: {n:,} events into Kafka in {time.perf_counter() - began:.0f} s")
    spec_settings = settings
    druid.submit_events_supervisor(spec_settings)
    store = DruidEvents(druid.ROUTER_URL, settings.events_datasource)
    ds = settings.events_datasource
    try:
        with httpx.Client(base_url=druid.ROUTER_URL, timeout=60) as client:
            began = time.perf_counter()
            count = 0
            while count < n:  # polling Druid's count until every event is ingested
                time.sleep(2.0)
                try:
                    rows = _druid_sql(client, f'SELECT COUNT(*) AS n FROM "{ds}"')
                    count = int(rows[0]["n"])  # type: ignore[call-overload]
                except httpx.HTTPStatusError:
                    count = 0  # the datasource appears with its first rows
                assert time.perf_counter() - began < 1800, f"Druid ingested {count} of {n}"
            print(f"   Druid: ingested in {time.perf_counter() - began:.0f} s")
            _search_figures("Druid", store, queries)
            druid.terminate_supervisor(settings, ds)  # its task publishes the segments
            began = time.perf_counter()
            size = rows_in = 0
            while rows_in < n and time.perf_counter() - began < 600:
                time.sleep(5.0)
                found = _druid_sql(
                    client,
                    'SELECT SUM("size") AS s, SUM(num_rows) AS r FROM sys.segments '
                    "WHERE datasource = ? AND is_published = 1 AND is_overshadowed = 0",
                    ds,
                )
                if found:  # no row until a segment is published
                    size = int(found[0]["s"] or 0)  # type: ignore[call-overload]
                    rows_in = int(found[0]["r"] or 0)  # type: ignore[call-overload]
            if rows_in >= n:
                print(
                    f"   Druid storage: {size / 2**20:,.0f} MiB in published segments, "
                    f"{size / 2**20 / (n / 1e6):,.1f} MiB per million events"
                )
            else:
                print(f"   Druid storage: segments not published within 10 min ({rows_in:,} rows)")
    finally:
        store.close()
        druid.terminate_supervisor(settings, ds)
        druid.drop_datasource(settings, ds)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stored", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--skip-worker", action="store_true", help="only the search figures")
    parser.add_argument(
        "--druid",
        type=int,
        default=0,
        metavar="N",
        help="also N events through Kafka into the local Druid (squall stack up): search "
        "p50/p99 and storage (default 0: DuckDB only)",
    )
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    args = parser.parse_args(argv)
    print("== search: raw events beside the aggregates")
    print(f"   machine: {machine()}")
    events = _events(args.events)
    if not args.skip_worker:
        rates: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            for on in (False, True):
                rates[on].append(worker_rate(events, on))
        off, on = max(rates[False]), max(rates[True])
        print(
            f"   worker, events off (baseline): {off:,.0f} events/s; events on: {on:,.0f} "
            f"events/s = {on / off:.0%} of off (best of {args.rounds}; all off "
            f"{', '.join(f'{r:,.0f}' for r in rates[False])}, on "
            f"{', '.join(f'{r:,.0f}' for r in rates[True])})"
        )
    print(f"   event loader into DuckDB: {loading_rate(events[:100_000]):,.0f} events/s")
    if args.stored:
        search_bench(args.stored, args.queries)
    if args.druid:
        druid_bench(args.druid, args.queries, args.kafka)


if __name__ == "__main__":
    main()
