"""Soak: a steady rate for half an hour; every process's RSS, open files and threads.

``make soak`` (or ``python -m bench soak --stack embedded|local|compose``):

1. the stack: ``embedded`` starts collector, topology and serve as processes on a fresh
   data dir (the local log, DuckDB); ``local`` starts the same three on the local stack
   (``squall stack up``: Kafka, ZooKeeper and Druid's JVMs as processes, started here if
   they are not running), with topics, consumer groups, datasources and supervisors of
   the run's own; ``compose`` brings the compose stack up from its built images as
   project ``squall-soak`` (Kafka, Druid, PostgreSQL, ...: a fresh ``down -v`` first) on
   ports clear of the others';
2. a load client posts ``--rate`` events/s in 100 ms batches (generated traffic, event
   time = now), counting what each 200 acknowledged by service and status: the ground
   truth. A batch answered otherwise is not counted and is reported;
3. once a minute every process of the stack (each part's process tree; each JVM of the
   local stack; for compose each container's) is sampled from /proc: RSS, open file
   descriptors, threads;
4. after ``--minutes``, the load stops and the query API's events and bytes by service and
   status must come to the ground truth exactly (awaited, up to ``--settle`` s);
5. per process the last sample and its growth (the mean of the last 5 samples against
   minutes 6-10, and against the five from half-way: a JVM's RSS grows until its heap is
   committed), written with the samples to ``--out``.json and drawn to ``--out``.png.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import machine
from squall.processes import ProcessGroup, child_env
from squall.settings import load_settings
from squall.traffic import generate_events, ndjson

WARM_UP = 5  # samples (minutes) before growth is judged


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (e.g. a container's tini, then its JVM)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, ()))
    return found


def sample(pid: int) -> tuple[float, float, int, int]:
    """(RSS MiB, anonymous RSS MiB, open fds, threads) of ``pid``'s process tree; zeros if it
    is gone. Anonymous RSS is heap and malloc; the rest of the RSS is mapped files (jars,
    Druid's memory-mapped segments, Kafka's indexes), pages the kernel can drop."""
    rss = anon = fds = threads = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("RssAnon:"):
                        anon += int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            continue
    return rss / 1024, anon / 1024, fds, threads


@contextmanager
def embedded() -> Iterator[tuple[str, str, Callable[[], dict[str, int]]]]:
    """The embedded pipeline's three parts on a fresh data dir (ports clear of the
    defaults, which tests and the demo use)."""
    with tempfile.TemporaryDirectory(prefix="squall-soak-") as tmp:
        env = child_env(data_dir=tmp, collector_port="19300", serve_port="19400")
        parts = ProcessGroup(env, Path(tmp) / "logs")
        collector, api = "http://127.0.0.1:19300", "http://127.0.0.1:19400"
        try:
            for name in ("collector", "topology", "serve"):
                parts.start(name)
            parts.wait_http("collector", f"{collector}/healthz")
            parts.wait_http("serve", f"{api}/healthz")
            yield collector, api, lambda: {name: parts.pid(name) for name in parts.procs}
        finally:
            parts.stop()


@contextmanager
def local() -> Iterator[tuple[str, str, Callable[[], dict[str, int]]]]:
    """Collector, topology and serve on the local stack's Kafka and Druid (raw events on,
    as in production); the run's topics, groups and datasources are its own, and its
    supervisors are terminated after. Kafka or Druid started here is stopped after."""
    from squall.broker import ensure_topics, open_broker
    from squall.deploy.stack import druid, kafka, paths, process, zookeeper

    stack = load_settings(overrides={"broker": "kafka://127.0.0.1:9092"})
    kafka_was_up, druid_was_up = kafka.serves_metadata("127.0.0.1:9092"), druid.is_up(stack)
    kafka.up(stack)
    druid.up(stack, supervisor=False)
    tag = uuid.uuid4().hex[:8]
    s = replace(
        stack,
        topic_raw=f"soak.raw.{tag}",
        topic_metrics=f"soak.metrics.{tag}",
        topic_deadletter=f"soak.dead.{tag}",
        topic_events=f"soak.events.{tag}",
        topic_workers=f"soak.workers.{tag}",
        datasource=f"soak_{tag}",
        events_datasource=f"soak_events_{tag}",
    )
    with open_broker(s.broker_url) as broker:
        ensure_topics(broker, s)
    druid.submit_supervisor(s)
    druid.submit_events_supervisor(s)
    jvms = [zookeeper.service(stack, Path(".")), kafka.KafkaStack(paths(stack)).service()]
    jvms += druid.services(stack)
    with tempfile.TemporaryDirectory(prefix="squall-soak-") as tmp:
        env = child_env(
            data_dir=tmp,
            collector_port="19500",
            serve_port="19600",
            broker=s.broker_url,
            store=f"druid://127.0.0.1:8888/{s.datasource}",
            events_datasource=s.events_datasource,
            topic_raw=s.topic_raw,
            topic_metrics=s.topic_metrics,
            topic_deadletter=s.topic_deadletter,
            topic_events=s.topic_events,
            topic_workers=s.topic_workers,
            group_prefix=f"squall-soak-{tag}",
        )
        parts = ProcessGroup(env, Path(tmp) / "logs")
        collector, api = "http://127.0.0.1:19500", "http://127.0.0.1:19600"

        def pids() -> dict[str, int]:
            found = {name: parts.pid(name) for name in parts.procs}
            for jvm in jvms:
                pid = process.running_pid(jvm)
                if pid is not None:
                    found[jvm.name] = pid
            return found

        try:
            for name in ("collector", "topology", "serve"):
                parts.start(name)
            parts.wait_http("collector", f"{collector}/healthz")
            parts.wait_http("serve", f"{api}/healthz")
            yield collector, api, pids
        finally:
            parts.stop()
            for datasource in (s.datasource, s.events_datasource):
                druid.terminate_supervisor(s, datasource)
                druid.drop_datasource(s, datasource)
            if not druid_was_up:
                druid.down(stack)
            if not kafka_was_up:
                kafka.down(stack)


@contextmanager
def compose() -> Iterator[tuple[str, str, Callable[[], dict[str, int]]]]:
    """The compose stack (images built) as project squall-soak, taken down after."""
    from squall.deploy.compose import project

    os.environ.update(
        SQUALL_COLLECTOR_PORT="19100", SQUALL_SERVE_PORT="19200", DRUID_CONSOLE_PORT="19888"
    )
    docker = project.client(project_name="squall-soak")
    docker.compose.down(volumes=True, remove_orphans=True, quiet=True)
    try:
        print(f"   up, all healthy: {project.up(docker):.0f}s", flush=True)

        def pids() -> dict[str, int]:
            return {
                c.name.removeprefix("squall-soak-"): c.state.pid
                for c in docker.compose.ps()
                if c.state.running
            }

        yield "http://127.0.0.1:19100", "http://127.0.0.1:19200", pids
    finally:
        docker.compose.down(volumes=True, remove_orphans=True, quiet=True)


class Load(threading.Thread):
    """Posts ``rate`` events/s in 100 ms batches; ``truth`` counts what got a 200."""

    def __init__(self, collector: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.collector, self.rate = collector, rate
        self.truth: Counter[tuple[str, str]] = Counter()
        self.bytes: Counter[tuple[str, str]] = Counter()
        self.refused: Counter[str] = Counter()
        self.behind = 0.0  # the most the client fell behind its schedule, s
        self.stop = threading.Event()

    def run(self) -> None:
        events = generate_events(count=None, seed=11, rate=self.rate)
        per_batch = max(1, int(self.rate / 10))
        with httpx.Client(timeout=30) as client:
            begin = time.perf_counter()
            tick = 0
            while not self.stop.is_set():
                now = datetime.now(UTC).isoformat(timespec="milliseconds")
                batch = [next(events) for _ in range(per_batch)]
                for e in batch:
                    e["ts"] = now
                try:
                    r = client.post(
                        f"{self.collector}/v1/logs",
                        content=ndjson(batch),
                        headers={"content-type": "application/x-ndjson"},
                    )
                    outcome = str(r.status_code)
                except httpx.HTTPError as exc:  # unknown outcome: the totals will say
                    outcome = type(exc).__name__
                if outcome == "200":
                    for e in batch:
                        key = (str(e["service"]), str(e["status"]))
                        self.truth[key] += 1
                        self.bytes[key] += int(e["bytes"])  # type: ignore[call-overload]
                else:
                    self.refused[outcome] += 1
                tick += 1
                lag = time.perf_counter() - (begin + tick * 0.1)
                self.behind = max(self.behind, lag)
                if lag < 0:
                    time.sleep(-lag)


def stored(api: str, since: datetime) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """Events and bytes by (service, status) in the store since ``since``."""
    body = {
        "queryType": "groupBy",
        "interval": f"{(since - timedelta(hours=1)).isoformat()}/"
        f"{(datetime.now(UTC) + timedelta(hours=1)).isoformat()}",
        "granularity": "all",
        "dimensions": ["service", "status"],
        "metrics": ["events", "bytes"],
    }
    rows = httpx.post(f"{api}/api/v1/query", json=body, timeout=60).json()["rows"]
    events: Counter[tuple[str, str]] = Counter()
    size: Counter[tuple[str, str]] = Counter()
    for r in rows:
        events[(r["service"], r["status"])] = int(r["events"])
        size[(r["service"], r["status"])] = int(r["bytes"])
    return events, size


def growth(series: list[float], start: int) -> float | None:
    """Percent change of the mean of the last 5 samples against the 5 from ``start``."""
    if len(series) < start + 10:
        return None
    early = sum(series[start : start + 5]) / 5
    late = sum(series[-5:]) / 5
    return 100.0 * (late - early) / early if early else None


def plot(samples: dict[str, list[tuple[float, float, int, int]]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(9, 12), sharex=True)
    for name, rows in sorted(samples.items()):
        minutes = range(1, len(rows) + 1)
        for ax, i in zip(axes, range(4), strict=True):
            ax.plot(minutes, [r[i] for r in rows], label=name)
    labels = ("RSS, MiB", "anonymous RSS, MiB", "open files", "threads")
    for ax, label in zip(axes, labels, strict=True):
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title(title, fontsize=10)
    axes[-1].set_xlabel("minute")
    axes[0].legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


STACKS = {"embedded": embedded, "local": local, "compose": compose}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=STACKS, default="embedded")
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rate", type=float, default=5_000)
    parser.add_argument("--settle", type=float, default=300, help="s to await the totals")
    parser.add_argument("--out", type=Path, help="JSON + PNG path stem (docs/soak-STACK)")
    args = parser.parse_args(argv)
    out = args.out or Path("docs") / f"soak-{args.stack}"
    began_at = datetime.now(UTC)
    print(f"== soak, {args.stack}: {args.rate:,.0f} events/s for {args.minutes} min")
    print(f"   machine: {machine()}; started {began_at:%Y-%m-%d %H:%M} UTC", flush=True)
    stack = STACKS[args.stack]()
    samples: dict[str, list[tuple[float, float, int, int]]] = {}
    with stack as (collector, api, pids):
        load = Load(collector, args.rate)
        load.start()
        began = time.monotonic()
        for minute in range(1, args.minutes + 1):
            time.sleep(max(0.0, began + minute * 60 - time.monotonic()))
            for name, pid in pids().items():
                samples.setdefault(name, []).append(sample(pid))
            sent = sum(load.truth.values())
            print(f"   minute {minute:3d}: {sent:,} events acknowledged", flush=True)
        load.stop.set()
        load.join()
        truth = sum(load.truth.values())
        deadline = time.monotonic() + args.settle
        events, size = stored(api, began_at)
        while (events, size) != (load.truth, load.bytes) and time.monotonic() < deadline:
            time.sleep(2)  # polling the store until it has caught up
            events, size = stored(api, began_at)
        settled = time.monotonic() - (deadline - args.settle)
    exact = (events, size) == (load.truth, load.bytes)
    print(f"   acknowledged {truth:,} events; refused batches: {dict(load.refused) or 'none'}")
    print(
        f"   achieved {truth / (args.minutes * 60):,.0f} events/s; the client fell behind its "
        f"schedule by at most {load.behind:.2f}s"
    )
    print(
        f"   store: {sum(events.values()):,} events; "
        + (f"exactly the acknowledged ones ({settled:.0f}s after the load stopped)"
           if exact else f"NOT the acknowledged ones after {args.settle:.0f}s: "
           f"{sum((events - load.truth).values())} extra, "
           f"{sum((load.truth - events).values())} missing")
    )  # fmt: skip
    half = len(next(iter(samples.values()), [])) // 2
    print(
        f"   at the end, and growth of the last 5 samples' mean against minutes "
        f"{WARM_UP + 1}-{WARM_UP + 5} / {half + 1}-{half + 5} (a JVM's RSS grows until its "
        "heap is committed; anonymous RSS leaves out mapped files):"
    )
    print(f"   {'process':<20} {'RSS MiB':>22} {'anonymous':>22} {'files':>20} {'threads':>18}")
    report = {}
    for name, rows in sorted(samples.items()):
        cols = []
        for i in range(4):
            series = [float(r[i]) for r in rows]
            shown = [growth(series, start) for start in (WARM_UP, half)]
            cols.append(
                f"{series[-1]:.0f} ("
                + " / ".join("-" if g is None else f"{g:+.1f}%" for g in shown)
                + ")"
            )
        print(f"   {name:<20} {cols[0]:>22} {cols[1]:>22} {cols[2]:>20} {cols[3]:>18}")
        report[name] = {
            "rss_mib": [round(r[0], 1) for r in rows],
            "anon_rss_mib": [round(r[1], 1) for r in rows],
            "open_files": [r[2] for r in rows],
            "threads": [r[3] for r in rows],
        }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "started": began_at.isoformat(),
                "stack": args.stack,
                "rate": args.rate,
                "minutes": args.minutes,
                "acknowledged": truth,
                "stored": sum(events.values()),
                "exact": exact,
                "samples": report,
            },
            indent=1,
        )
    )
    plot(
        samples,
        f"soak, {args.stack} stack, {truth / (args.minutes * 60):,.0f} events/s achieved "
        f"(target {args.rate:,.0f}), {began_at:%Y-%m-%d %H:%M} UTC",
        out.with_suffix(".png"),
    )
    print(f"   samples: {out.with_suffix('.json')}, plot: {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
