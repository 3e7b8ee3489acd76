"""Compute tier: spout -> bolt -> bolt in one worker, acking off and on.

Prints tuples/s (spout tuples fully processed per second), the p50/p99 time from spout
emit to tree completion, resident memory sampled along the run (flat = no leak), and
the ratio to a baseline: the same per-tuple work as plain Python calls in this process,
with no runtime at all.

    python -m bench.compute [--tuples 2000000] [--acking on|off|both]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import machine, rss_mib
from squall.compute import Bolt, Config, LocalCluster, Spout, Topology
from squall.compute.context import TopologyContext
from squall.compute.tuple import Tuple


class Counter(Spout):
    outputs = ["n"]
    total = 0
    tracked = True

    def open(self, context: TopologyContext) -> None:
        self.i = 0

    def next_tuple(self) -> None:
        if self.i < self.total:
            self.i += 1
            self.emit([self.i], msg_id=self.i if self.tracked else None)


class Increment(Bolt):
    outputs = ["n"]

    def process(self, tup: Tuple) -> None:
        self.emit([tup.values[0] + 1], anchors=tup)


class Sum(Bolt):
    def prepare(self, context: TopologyContext) -> None:
        self.total = 0

    def process(self, tup: Tuple) -> None:
        self.total += tup.values[0]


def baseline(n: int) -> float:
    """The same work without a runtime: spout, bolt and bolt as direct calls."""
    total = 0

    def sink(v: int) -> None:
        nonlocal total
        total += v

    def increment(v: int) -> None:
        sink(v + 1)

    start = time.perf_counter()
    for i in range(1, n + 1):
        increment(i)
    return n / (time.perf_counter() - start)


def run(n: int, tracked: bool) -> dict[str, Any]:
    spout = type("BenchSpout", (Counter,), {"total": n, "tracked": tracked})
    topo = Topology(f"bench-{'acking' if tracked else 'no-acking'}")
    topo.spout("spout", spout)
    topo.bolt("increment", Increment).shuffle_grouping("spout")
    topo.bolt("sum", Sum).shuffle_grouping("increment")
    config = Config(acking=tracked, max_spout_pending=5_000 if tracked else None)
    samples: list[float] = []
    with LocalCluster(config) as cluster:
        start = time.perf_counter()
        cluster.submit(topo)
        step = max(n // 10, 1)
        next_mark = step
        while True:
            m = cluster.metrics()["sum"]
            if m.executed >= next_mark:
                samples.append(rss_mib())
                next_mark += step
            if m.executed >= n:
                break
            time.sleep(0.05)
        cluster.wait_idle(timeout=120)
        elapsed = time.perf_counter() - start
        metrics = cluster.metrics()
    done = metrics["spout"].acked if tracked else metrics["sum"].executed
    return {
        "rate": n / elapsed,
        "done": done,
        "p50": metrics["spout"].complete_latency_ms_p50,
        "p99": metrics["spout"].complete_latency_ms_p99,
        "rss": samples,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuples", type=int, default=2_000_000)
    parser.add_argument("--acking", choices=["on", "off", "both"], default="both")
    args = parser.parse_args(argv)
    print(f"== compute: spout -> bolt -> bolt, one worker, {args.tuples:,} tuples")
    print(f"   machine: {machine()}")
    base = baseline(min(args.tuples, 2_000_000))
    print(f"   baseline (plain calls, no runtime): {base:,.0f} tuples/s")
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.acking]
    for tracked in modes:
        r = run(args.tuples, tracked)
        rss = r["rss"]
        label = "acking on " if tracked else "acking off"
        line = f"   {label}: {r['rate']:,.0f} tuples/s ({r['rate'] / base:.2f}x baseline)"
        if tracked:
            line += f", complete latency p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms"
        print(line)
        if rss:
            print(
                f"      RSS over the run (MiB, every 10%): {' '.join(f'{x:.0f}' for x in rss)}"
                f" (growth {rss[-1] - rss[0]:+.1f} MiB)"
            )
        assert r["done"] == args.tuples, f"only {r['done']} of {args.tuples} tuples completed"


if __name__ == "__main__":
    main()
