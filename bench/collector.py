"""Collector throughput: a real ``squall collector`` (uvicorn, one worker) on 127.0.0.1,
load from another process, 1,000-event requests of real Apache log lines.

    python -m bench collector                       10 s, file channel, null sink
    python -m bench collector --five-minutes        the 5-minute run (RSS should stay flat)
    python -m bench collector --sink broker         drain into the embedded local log
    python -m bench collector --broker kafka://127.0.0.1:9092[?client=confluent]
                                                    drain into Kafka (a topic of its own)
    python -m bench collector --endpoint events     Flume JSONHandler bodies at /events

Prints accepted events/s (200 = durable in the channel), request latency p50/p99, 503s,
and the collector's RSS over the run. Figures only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import multiprocessing as mp
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from bench.common import machine, tree_rss_mib

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "tests" / "data" / "apache_logs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bodies(endpoint: str, batch: int) -> tuple[str, dict[str, str], list[bytes]]:
    lines = LOGS.read_text(encoding="utf-8").splitlines()
    bodies = []
    for start in range(0, len(lines) - batch + 1, batch):
        chunk = lines[start : start + batch]
        if endpoint == "events":
            doc = [{"headers": {"service": "web"}, "body": line} for line in chunk]
            bodies.append(orjson.dumps(doc))
        else:
            bodies.append(("\n".join(chunk) + "\n").encode())
    if endpoint == "events":
        return "/events", {"content-type": "application/json"}, bodies
    return "/v1/logs?service=web", {"content-type": "text/plain"}, bodies


def _client(
    port: int,
    path: str,
    headers: dict[str, str],
    bodies: list[bytes],
    batch: int,
    seconds: float,
    connections: int,
    out: mp.Queue[dict[str, Any]],
) -> None:
    deadline = time.monotonic() + seconds
    results: list[tuple[list[float], int, int, int]] = []

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        lat: list[float] = []
        ok = busy = other = 0
        n = i
        while time.monotonic() < deadline:
            body = bodies[n % len(bodies)]
            n += connections
            t0 = time.perf_counter()
            conn.request("POST", path, body, headers)
            resp = conn.getresponse()
            resp.read()
            lat.append(time.perf_counter() - t0)
            if resp.status == 200:
                ok += 1
            elif resp.status == 503:
                busy += 1
                time.sleep(float(resp.headers.get("retry-after", "1")))
            else:
                other += 1
        conn.close()
        results.append((lat, ok, busy, other))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(
        {
            "elapsed": time.monotonic() - start,
            "ok": sum(r[1] for r in results),
            "busy": sum(r[2] for r in results),
            "other": sum(r[3] for r in results),
            "latencies": [x for r in results for x in r[0]],
        }
    )


def _merge(parts: list[dict[str, Any]]) -> dict[str, float]:
    """One figure set from the client processes' (latency percentiles over all)."""
    lat = sorted(x for p in parts for x in p["latencies"])
    return {
        "elapsed": max(p["elapsed"] for p in parts),
        "ok": sum(p["ok"] for p in parts),
        "busy": sum(p["busy"] for p in parts),
        "other": sum(p["other"] for p in parts),
        "p50": lat[len(lat) // 2] if lat else 0.0,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0,
        "max": lat[-1] if lat else 0.0,
    }


def wait_answering(
    port: int,
    proc: subprocess.Popen[bytes],
    timeout: float = 30.0,
    what: str = "collector",
    request: tuple[str, str, bytes | None] = ("GET", "/healthz", None),
) -> None:
    """Until ``request`` (method, path, body) on ``port`` gets a 200 (a start, not a sync);
    exits if ``proc`` dies first."""
    method, path, body = request
    headers = {"content-type": "application/json"} if body is not None else {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}: {stop(proc)[-2000:]!r}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request(method, path, body, headers)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not answer {method} {path} within {timeout:.0f} s")


def _sink_figures(port: int) -> tuple[float, float]:
    """(events the sink delivered, events still in the channel) from /metrics."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    values = {}
    for line in conn.getresponse().read().decode().splitlines():
        name, _, value = line.partition(" ")
        values[name] = value
    return (
        float(values.get("squall_ingest_sink_events_total", "0")),
        float(values.get("squall_ingest_channel_events", "0")),
    )


def start_collector(
    port: int,
    tmp: Path,
    channel: str,
    sink: str = "null",
    broker: str | None = None,
    workers: int = 1,
    topic: str | None = None,
) -> subprocess.Popen[bytes]:
    """``squall collector`` on ``port`` with its state in ``tmp``: ``channel`` (file or
    memory) draining into a null sink, or into ``broker`` (``topic``, else one of its
    own), from ``workers`` processes."""
    config = tmp / "collector.toml"
    sink_conf = '[sink]\ntype = "broker"\n' if sink == "broker" else '[sink]\ntype = "null"\n'
    config.write_text(
        f'[source]\nport = {port}\n[channel]\ntype = "{channel}"\n'
        f"capacity_events = 2000000\ncapacity_bytes = 2147483648\n{sink_conf}"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQUALL_")}
    if broker:
        env["SQUALL_BROKER"] = broker
        env["SQUALL_TOPIC_RAW"] = topic or f"bench.collector.{uuid.uuid4().hex[:8]}"
    argv = [sys.executable, "-m", "squall", "--data-dir", str(tmp), "collector"]
    return subprocess.Popen(
        [*argv, "--config", str(config), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(proc: subprocess.Popen[bytes]) -> bytes:
    """SIGTERM (SIGKILL after 30 s); the process's stderr."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err or b""


def measure(
    port: int,
    pid: int,
    path: str,
    headers: dict[str, str],
    bodies: list[bytes],
    batch: int,
    seconds: float,
    connections: int,
    processes: int = 1,
) -> tuple[dict[str, float], list[tuple[float, float]]]:
    """The load client's figures (from ``processes`` other processes sharing the
    ``connections``) and the RSS of ``pid`` with its children each second."""
    rss: list[tuple[float, float]] = []
    out: mp.Queue[dict[str, Any]] = mp.Queue()
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    clients = [
        mp.Process(target=_client, args=(port, path, headers, bodies, batch, seconds, n, out))
        for n in shares
        if n
    ]
    t0 = time.monotonic()
    for client in clients:
        client.start()
    parts: list[dict[str, Any]] = []
    while len(parts) < len(clients):  # read before joining: a full pipe blocks the child
        rss.append((time.monotonic() - t0, tree_rss_mib(pid)))
        with contextlib.suppress(queue.Empty):
            parts.append(out.get(timeout=1.0))
    for client in clients:
        client.join()
    return _merge(parts), rss


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench collector", description=__doc__)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--five-minutes", action="store_true", help="--seconds 300")
    p.add_argument("--batch", type=int, default=1000, help="events per request (1000)")
    p.add_argument("--connections", type=int, default=4, help="concurrent client connections")
    p.add_argument("--endpoint", choices=["logs", "events"], default="logs")
    p.add_argument("--channel", choices=["file", "memory"], default="file")
    p.add_argument("--sink", choices=["null", "broker"], default="null")
    p.add_argument("--broker", help="drain into this broker (implies --sink broker)")
    args = p.parse_args(argv)
    if args.broker:
        args.sink = "broker"
    seconds = 300.0 if args.five_minutes else args.seconds

    path, headers, bodies = _bodies(args.endpoint, args.batch)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="squall-bench-") as tmp:
        proc = start_collector(port, Path(tmp), args.channel, args.sink, args.broker)
        try:
            wait_answering(port, proc)
            r, rss = measure(
                port, proc.pid, path, headers, bodies, args.batch, seconds, args.connections
            )
            sink_events, backlog = _sink_figures(port)
        finally:
            err = stop(proc)
    events = r["ok"] * args.batch
    print(f"== collector: {machine()}")
    print(
        f"   {args.endpoint} endpoint, {args.channel} channel, {args.sink} sink"
        f"{' into ' + args.broker if args.broker else ''}, "
        f"{args.batch}-event requests, {args.connections} connections, {r['elapsed']:.1f} s"
    )
    print(
        f"   accepted {events:,} events durably: {events / r['elapsed']:,.0f} events/s "
        f"({r['ok'] / r['elapsed']:,.1f} requests/s)"
    )
    print(
        f"   latency p50 {r['p50'] * 1000:.1f} ms, p99 {r['p99'] * 1000:.1f} ms, "
        f"max {r['max'] * 1000:.1f} ms; 503s: {r['busy']}, other errors: {r['other']}"
    )
    print(
        f"   sink delivered {sink_events:,.0f} events ({sink_events / r['elapsed']:,.0f}/s "
        f"over the run), {backlog:,.0f} still in the channel at the end"
    )
    values = [v for _, v in rss]
    if values:
        marks = ", ".join(f"{t:.0f}s {v:.0f}" for t, v in rss[:: max(1, len(rss) // 10)])
        print(
            f"   collector RSS MiB: start {values[0]:.0f}, median {statistics.median(values):.0f}, "
            f"max {max(values):.0f}, end {values[-1]:.0f}  ({marks})"
        )
    if r["other"] or proc.returncode not in (0, -15):
        print("   collector stderr tail:", err.decode(errors="replace")[-2000:])


if __name__ == "__main__":
    main()
