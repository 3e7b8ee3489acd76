"""``squall demo``: the whole pipeline on this machine, in one command.

Starts the collector, the log-metrics topology and the query API as three processes
(so that they use both cores, as they would on separate machines), waits until they
answer, prints the URLs, then replays a file or generates live traffic. Ctrl-C stops
everything; state stays in ``SQUALL_DATA_DIR`` for the next run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import httpx

from squall.exceptions import SquallError
from squall.settings import Settings, load_settings
from squall.traffic import generate_events, ndjson

__all__ = ["run_demo"]

_READY_TIMEOUT = 60.0


class DemoError(SquallError):
    """A part of the demo did not start or stopped unexpectedly."""


def _env(settings: Settings) -> dict[str, str]:
    """Every child sees the same settings, with absolute paths."""
    return dict(
        os.environ,
        SQUALL_DATA_DIR=str(settings.data_dir.resolve()),
        SQUALL_BROKER=settings.broker_url,
        SQUALL_STORE=settings.store_url,
    )


class _Parts:
    """The demo's child processes, stopped together."""

    def __init__(self, settings: Settings) -> None:
        self.env = _env(settings)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        log_dir = settings.data_dir.resolve() / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir

    def start(self, name: str, *args: str) -> None:
        with open(self.log_dir / f"{name}.log", "ab") as log:  # the child keeps its own fd
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "squall", *args], env=self.env, stdout=log, stderr=log
            )

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise DemoError(
                    f"{name} exited with code {proc.returncode}; "
                    f"see {self.log_dir / (name + '.log')}"
                )

    def wait_ready(self, name: str, url: str) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            self.check()
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise DemoError(f"{name} did not answer {url} within {_READY_TIMEOUT:.0f}s")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _visible_events(query_url: str) -> int:
    body = {
        "queryType": "timeseries",
        "interval": "1970-01-01T00:00:00Z/2100-01-01T00:00:00Z",
        "granularity": "all",
        "metrics": ["events"],
    }
    rows = httpx.post(query_url, json=body, timeout=5.0).json().get("rows", [])
    return int(sum(r.get("events") or 0 for r in rows))


def _generate(collector: str, rate: float, stop: threading.Event) -> None:
    """POST NDJSON batches every 100 ms so that ``rate`` events/s arrive."""
    events = generate_events(count=None, seed=int(time.time()), rate=rate)
    per_batch = max(1, int(rate / 10))
    with httpx.Client(timeout=10.0) as client:
        next_at = time.monotonic()
        while not stop.is_set():
            batch = [next(events) for _ in range(per_batch)]
            now = datetime.now(UTC).isoformat(timespec="milliseconds")
            for e in batch:
                e["ts"] = now  # live traffic: event time is now
            # the collector restarting or gone only costs this batch: it is live traffic
            with contextlib.suppress(httpx.HTTPError):
                client.post(
                    f"{collector}/v1/logs",
                    content=ndjson(batch),
                    headers={"content-type": "application/x-ndjson"},
                )
            next_at += 0.1
            stop.wait(max(0.0, next_at - time.monotonic()))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run_demo(args: argparse.Namespace) -> int:
    settings = load_settings(
        overrides={"data_dir": args.data_dir, "broker": args.broker, "store": args.store}
    )
    collector = f"http://{settings.collector_host}:{settings.collector_port}"
    serve = f"http://{settings.serve_host}:{settings.serve_port}"
    parts = _Parts(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _interrupt)  # stop the children on SIGTERM too
    try:
        parts.start("collector", "collector")
        parts.start("topology", "topology", "run", "log-metrics")
        parts.start("serve", "serve")
        parts.wait_ready("collector", f"{collector}/healthz")
        parts.wait_ready("query API", f"{serve}/healthz")
        print(f"collector  {collector}  (POST /events, /v1/logs)")
        print(f"dashboard  {serve}/")
        print(f"query API  {serve}/api/v1/query")
        print(f"state and logs in {settings.data_dir.resolve()}")
        if args.replay:
            from ingest.send import send_file

            before = _visible_events(f"{serve}/api/v1/query")
            started = time.monotonic()
            sent = send_file(args.replay, url=collector, service=args.service)
            print(f"sent {sent:,} events from {args.replay}; waiting for them in the query API")
            while _visible_events(f"{serve}/api/v1/query") < before + sent:
                parts.check()
                time.sleep(0.2)
            print(
                f"all {sent:,} events visible in the query API "
                f"{time.monotonic() - started:.1f}s after the first was sent"
            )
        if args.generate:
            threading.Thread(
                target=_generate, args=(collector, args.generate, stop), daemon=True
            ).start()
            print(f"generating {args.generate:,.0f} events/s of live traffic")
        print("running; press Ctrl-C to stop")
        while True:
            parts.check()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping")
        return 0
    finally:
        stop.set()
        parts.stop()
