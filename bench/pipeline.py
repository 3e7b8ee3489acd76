"""The embedded pipeline: topology throughput, and freshness under live load.

1. Throughput: ``--events`` events (the apache_logs lines and generated JSON lines,
   half each) are loaded into ``logs.raw`` of a fresh local log; the log-metrics
   topology then runs in one worker (in this process) until every event is parsed,
   aggregated and committed. Prints events/s, and the ratio to a baseline: the same
   parse + aggregate + encode work as a plain loop, no runtime and no broker.
2. Freshness: collector, topology and query API run as processes (as ``squall demo``
   runs them); a load client posts JSON events at ``--rate`` events/s in 100 ms
   batches, and every 100 ms one probe event with a unique service. Freshness is the
   time from the probe's HTTP 200 to the query API counting it. Prints p50/p99 and the
   RSS of every process.

    python -m bench pipeline [--events 200000] [--rate 10000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from bench.common import machine, rss_mib
from squall.broker import Broker, TopicPartition, ensure_topics, open_broker
from squall.compute import LocalCluster
from squall.compute.topologies.log_metrics import MinuteAggregator, parse_event
from squall.compute.topologies.log_metrics.topology import CONFIG, build_topology, group
from squall.gc_tuning import WORKER_THRESHOLDS, frozen_gc
from squall.processes import ProcessGroup, child_env
from squall.rows import encode_row
from squall.settings import Settings, load_settings
from squall.traffic import generate_events, ndjson

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "apache_logs"


def _events(n: int) -> list[tuple[dict[str, str], str]]:
    lines = DATA.read_text().splitlines()
    half = n // 2
    out = [({"service": "web", "id": f"a{i}"}, lines[i % len(lines)]) for i in range(half)]
    for i, e in enumerate(generate_events(count=n - half, seed=3)):
        out.append(({"id": f"j{i}"}, orjson.dumps(e).decode()))
    return out


def baseline(events: list[tuple[dict[str, str], str]]) -> float:
    start = time.perf_counter()
    agg = MinuteAggregator()
    for i, (headers, body) in enumerate(events):
        parsed = parse_event(headers, body)
        agg.add(parsed)  # type: ignore[arg-type]
        if i % 10_000 == 0:
            for row in agg.flush():
                encode_row(row)
    for row in agg.flush():
        encode_row(row)
    return len(events) / (time.perf_counter() - start)


def throughput(n: int) -> None:
    # as in a worker process (`squall topology run`), for the baseline too
    with frozen_gc(WORKER_THRESHOLDS):
        _throughput(n)


def timed_worker(
    broker: Broker, settings: Settings, events: list[tuple[dict[str, str], str]]
) -> tuple[int, float]:
    """Put ``events`` on logs.raw, run one log-metrics worker over them: the events
    committed at its first commit, and the seconds from then until all are committed.
    Events count once committed with their rows (checkpoints, every second); from the first
    commit on, so that start-up is left out."""
    producer = broker.producer()
    for headers, body in events:
        producer.send(
            settings.topic_raw,
            orjson.dumps({"headers": headers, "body": body}),
            key=headers.get("service", "json").encode(),
        )
    producer.flush()
    tps = [
        TopicPartition(settings.topic_raw, p) for p in range(broker.partitions(settings.topic_raw))
    ]
    members = group(settings)
    with LocalCluster(CONFIG) as cluster:
        cluster.submit(build_topology(settings))
        first, start = 0, 0.0
        while True:
            done = sum(broker.committed(members, tp) or 0 for tp in tps)
            if done and not first:
                first, start = done, time.perf_counter()
            if done >= len(events):
                return first, time.perf_counter() - start
            time.sleep(0.02)


def _throughput(n: int) -> None:
    events = _events(n)
    base = baseline(events)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(overrides={"data_dir": Path(tmp)})
        with open_broker(settings.broker_url) as broker:
            ensure_topics(broker, settings)
            first, parsed = timed_worker(broker, settings, events)
            n -= first
    print(
        f"   topology, one worker: {n / parsed:,.0f} events/s parsed and aggregated "
        f"({n / parsed / base:.2f}x the plain-loop baseline of {base:,.0f}/s)"
    )


def freshness(rate: float, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parts = ProcessGroup(child_env(data_dir=tmp), Path(tmp) / "logs")
        try:
            for name in ("collector", "topology", "serve"):
                parts.start(name)
            parts.wait_http("collector", "http://127.0.0.1:8100/healthz")
            parts.wait_http("serve", "http://127.0.0.1:8200/healthz")
            _freshness_run(parts, rate, seconds)
        finally:
            parts.stop()


def _freshness_run(
    parts: ProcessGroup | None,
    rate: float,
    seconds: float,
    collector: str = "http://127.0.0.1:8100",
    api: str = "http://127.0.0.1:8200",
) -> None:
    """Post ``rate`` events/s with one probe per 100 ms batch to ``collector``; print how
    long each probe took to show in ``api``'s answers (and the parts' RSS, if given)."""
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()
    query = {
        "queryType": "groupBy",
        "interval": "2020-01-01T00:00:00Z/2100-01-01T00:00:00Z",
        "granularity": "all",
        "dimensions": ["service"],
        "metrics": ["events"],
    }

    failed: list[str] = []

    def watch() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set() or len(seen) < len(sent):
                if stop.is_set() and time.perf_counter() > deadline:
                    return
                pending = [s for s in list(sent) if s not in seen]
                if pending:
                    body = dict(query, filter={"service": pending})
                    try:  # a slow or failed query delays what it would have seen, no more
                        rows = client.post(f"{api}/api/v1/query", json=body).json()
                    except httpx.HTTPError as exc:
                        failed.append(type(exc).__name__)
                        continue
                    now = time.perf_counter()
                    for r in rows.get("rows", []):
                        if r["service"] in sent and r["service"] not in seen:
                            seen[r["service"]] = now
                time.sleep(0.02)

    deadline = float("inf")
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    events = generate_events(count=None, seed=1, rate=rate)
    run = uuid.uuid4().hex[:8]  # a probe already in the store from an earlier run is seen at once
    per_batch = max(1, int(rate / 10))
    procs = parts.procs if parts is not None else {}
    samples: dict[str, list[float]] = {name: [] for name in procs}
    with httpx.Client(timeout=10) as client:
        begin = time.perf_counter()
        tick = 0
        while time.perf_counter() - begin < seconds:
            now_iso = datetime.now(UTC).isoformat()
            batch = [next(events) for _ in range(per_batch)]
            for e in batch:
                e["ts"] = now_iso
            probe = f"probe-{run}-{tick}"
            batch.append({"ts": now_iso, "service": probe, "path": "/p", "status": 200})
            r = client.post(
                f"{collector}/v1/logs",
                content=ndjson(batch),
                headers={"content-type": "application/x-ndjson"},
            )
            if r.status_code == 200:
                sent[probe] = time.perf_counter()
            tick += 1
            if tick % 10 == 0 and parts is not None:
                for name in procs:
                    samples[name].append(rss_mib(parts.pid(name)))
            time.sleep(max(0.0, begin + tick * 0.1 - time.perf_counter()))
    deadline = time.perf_counter() + 30
    stop.set()
    watcher.join()
    lat = sorted(seen[s] - sent[s] for s in sent if s in seen)
    if failed:
        print(f"   {len(failed)} watch queries failed ({', '.join(sorted(set(failed)))})")
    if not lat:
        print("   freshness: no probe became visible")
        return
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    print(
        f"   freshness at {rate:,.0f} events/s for {seconds:.0f}s: p50 "
        f"{statistics.median(lat):.2f}s, p99 {p99:.2f}s, max {lat[-1]:.2f}s "
        f"({len(lat)}/{len(sent)} probes seen)"
    )
    for name, values in samples.items():
        if values:
            print(
                f"      {name} RSS MiB: start {values[0]:.0f}, end {values[-1]:.0f}, "
                f"max {max(values):.0f}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args(argv)
    print("== pipeline: the embedded log-metrics topology and end-to-end freshness")
    print(f"   machine: {machine()}")
    throughput(args.events)
    freshness(args.rate, args.seconds)


if __name__ == "__main__":
    main()
