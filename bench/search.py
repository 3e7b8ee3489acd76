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
from dataclasses import replace
from pathlib import Path

import orjson

from bench.common import machine
from bench.pipeline import _events
from squall.broker import TopicPartition, ensure_topics, open_broker
from squall.compute import LocalCluster
from squall.compute.topologies.log_metrics.events import EventEncoder
from squall.compute.topologies.log_metrics.parse import ParsedEvent, parse_event
from squall.compute.topologies.log_metrics.topology import CONFIG, build_topology, group
from squall.gc_tuning import WORKER_THRESHOLDS, frozen_gc
from squall.serve.duckdb_store import DuckDBStore
from squall.serve.event_loader import decode_events
from squall.serve.search import parse_search, search_page
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
            producer = broker.producer()
            for headers, body in events:
                producer.send(
                    settings.topic_raw,
                    orjson.dumps({"headers": headers, "body": body}),
                    key=headers.get("service", "json").encode(),
                )
            producer.flush()
            tps = [
                TopicPartition(settings.topic_raw, p)
                for p in range(broker.partitions(settings.topic_raw))
            ]
            members = group(settings)
            with LocalCluster(CONFIG) as cluster:
                cluster.submit(build_topology(settings))
                first, start = 0, 0.0
                while True:  # polling the committed offsets, as bench/pipeline.py does
                    done = sum(broker.committed(members, tp) or 0 for tp in tps)
                    if done and not first:
                        first, start = done, time.perf_counter()
                    if done >= n:
                        break
                    time.sleep(0.02)
                elapsed = time.perf_counter() - start
            if on:
                ends = broker.end_offsets(
                    TopicPartition(settings.topic_events, p)
                    for p in range(broker.partitions(settings.topic_events))
                )
                assert sum(ends.values()) > 0, "events on, but logs.events is empty"
    return (n - first) / elapsed


def loading_rate(events: list[tuple[dict[str, str], str]]) -> float:
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
        for i in range(0, len(records), 20):  # the loader's batches: ~5,000 events
            rows = []
            for value in records[i : i + 20]:
                rows.extend(decode_events(value)[0])
            store.events.write_with_offsets(rows, "logs.events", {0: i + 20})
            loaded += len(rows)
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
                page = search_page(store.events, query)
                times.append(time.perf_counter() - began)
                found += len(page["events"])
                assert page["events"], f"the bench search {body} found nothing"
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(
                f"   search first page, {label}: p50 {statistics.median(times) * 1000:,.0f} ms, "
                f"p99 {p99 * 1000:,.0f} ms ({queries} queries, {found // queries} events/page)"
            )
        store.close()


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stored", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--skip-worker", action="store_true", help="only the search figures")
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
    search_bench(args.stored, args.queries)


if __name__ == "__main__":
    main()
