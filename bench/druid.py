"""Real Druid: freshness under live load, the dashboard's query latency, memory.

Needs the local stack running (``squall stack up``: Kafka on ``--kafka``, Druid's router
on 127.0.0.1:8888). Collector, topology and query API run as processes on Kafka, with
the query API on the Druid store; topics and the datasource are this run's own (a
supervisor is submitted for them and terminated at the end).

1. Freshness: as bench.pipeline: a load client posts JSON events at ``--rate`` events/s
   in 100 ms batches plus one probe event with a unique service per batch; freshness is
   the time from the probe's HTTP 200 to the query API (on Druid) counting it.
2. Dashboard queries: the three queries the dashboard sends every refresh, 200 times
   each through the query API, over the last 15 minutes of the data: p50/p99.
3. RSS of each Druid service and of ZooKeeper.

    python -m bench druid [--rate 10000] [--seconds 30] [--kafka 127.0.0.1:9092]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx

from bench.common import machine, rss_mib
from bench.pipeline import _freshness_run
from squall.broker import ensure_topics, open_broker
from squall.deploy.stack import druid, process, zookeeper
from squall.processes import ProcessGroup, child_env
from squall.settings import Settings, load_settings

API = "http://127.0.0.1:8200"


def _dashboard_queries(client: httpx.Client, rounds: int) -> None:
    bounds = client.get(f"{API}/api/v1/time-boundary").json()
    if not bounds.get("maxTime"):
        print("   dashboard queries: no data")
        return
    end = bounds["maxTime"]
    start = time.strftime(
        "%Y-%m-%dT%H:%M:%SZ",
        time.gmtime(time.mktime(time.strptime(end, "%Y-%m-%dT%H:%M:%SZ")) - 14 * 60),
    )
    interval = f"{start}/{end[:-1]}.001Z"
    queries = {
        "series (minute)": {
            "queryType": "timeseries",
            "interval": interval,
            "granularity": "minute",
            "metrics": ["events", "error_rate", "latency_p95", "unique_users"],
        },
        "totals (all)": {
            "queryType": "timeseries",
            "interval": interval,
            "granularity": "all",
            "metrics": ["events", "unique_users"],
        },
        "top routes": {
            "queryType": "topN",
            "interval": interval,
            "granularity": "all",
            "dimension": "route",
            "metric": "events",
            "threshold": 10,
            "metrics": ["error_rate", "latency_p95", "unique_users"],
        },
    }
    for name, body in queries.items():
        for _ in range(10):  # warm-up
            client.post(f"{API}/api/v1/query", json=body)
        took = []
        for _ in range(rounds):
            t = time.perf_counter()
            r = client.post(f"{API}/api/v1/query", json=body)
            took.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
        took.sort()
        print(
            f"   dashboard {name:<16} p50 {took[len(took) // 2]:6.1f} ms  "
            f"p99 {took[int(0.99 * (len(took) - 1))]:6.1f} ms  max {took[-1]:6.1f} ms"
        )


def _memory(settings: Settings) -> None:
    jvms = [zookeeper.service(settings, Path("."))]
    jvms += druid.services(settings)
    for jvm in jvms:
        pid = process.running_pid(jvm)
        if pid is not None:
            print(f"   {jvm.name:<18} RSS {rss_mib(pid):6.0f} MiB (heap {jvm.heap})")


def run(stack: Settings, rate: float, seconds: float, rounds: int) -> None:
    tag = uuid.uuid4().hex[:8]
    s = replace(
        stack,
        topic_raw=f"bench.raw.{tag}",
        topic_metrics=f"bench.metrics.{tag}",
        topic_deadletter=f"bench.dead.{tag}",
        datasource=f"bench_{tag}",
    )
    with open_broker(s.broker_url) as broker:
        ensure_topics(broker, s)
    druid.submit_supervisor(s)
    with tempfile.TemporaryDirectory() as tmp:
        env = child_env(
            data_dir=tmp,
            broker=s.broker_url,
            store=f"druid://127.0.0.1:8888/{s.datasource}",
            topic_raw=s.topic_raw,
            topic_metrics=s.topic_metrics,
            topic_deadletter=s.topic_deadletter,
            group_prefix=f"squall-bench-{tag}",  # a consumer group of its own
        )
        parts = ProcessGroup(env, Path(tmp) / "logs")
        try:
            for name in ("collector", "topology", "serve"):
                parts.start(name)
            parts.wait_http("collector", "http://127.0.0.1:8100/healthz")
            parts.wait_http("serve", f"{API}/healthz")
            _freshness_run(parts, rate, seconds)
            with httpx.Client(timeout=30) as client:
                _dashboard_queries(client, rounds)
        finally:
            parts.stop()
            druid.terminate_supervisor(s)
            druid.drop_datasource(s)
    _memory(stack)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    args = parser.parse_args(argv)
    print("== druid: freshness into real Druid, dashboard query latency, memory")
    print(f"   machine: {machine()}")
    stack = load_settings(overrides={"broker": f"kafka://{args.kafka}"})
    if not druid.is_up(stack):
        print("   Druid is not running: start it with `squall stack up` first")
        return
    run(stack, args.rate, args.seconds, args.rounds)
