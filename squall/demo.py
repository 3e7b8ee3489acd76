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
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from squall.processes import ProcessGroup, child_env
from squall.settings import Settings, load_settings
from squall.tls import client_verify, scheme
from squall.traffic import generate_events, ndjson

__all__ = ["run_demo"]


def _env(settings: Settings) -> dict[str, str]:
    """Every child sees the same settings, with absolute paths."""
    return child_env(
        data_dir=str(settings.data_dir.resolve()),
        broker=settings.broker_url,
        store=settings.store_url,
        events_retention_days=str(settings.events_retention_days),
    )


class _Clients:
    """How the demo talks to its own services: the scheme, the certificate to trust and a
    token of each kind when they are configured (SQUALL_TLS_*, SQUALL_*_TOKENS)."""

    def __init__(self, settings: Settings) -> None:
        self.verify = client_verify(settings)
        self.ingest_token = min(settings.ingest_tokens, default=None)
        self.query_headers = (
            {"authorization": f"Bearer {min(settings.query_tokens)}"}
            if settings.query_tokens
            else {}
        )
        self.ingest_headers = (
            {"authorization": f"Bearer {self.ingest_token}"} if self.ingest_token else {}
        )


def _visible_events(query_url: str, clients: _Clients) -> int:
    body = {
        "queryType": "timeseries",
        "interval": "1970-01-01T00:00:00Z/2100-01-01T00:00:00Z",
        "granularity": "all",
        "metrics": ["events"],
    }
    rows = (
        httpx.post(
            query_url, json=body, timeout=5.0, headers=clients.query_headers, verify=clients.verify
        )
        .json()
        .get("rows", [])
    )
    return int(sum(r.get("events") or 0 for r in rows))


def _generate(collector: str, rate: float, stop: threading.Event, clients: _Clients) -> None:
    """POST NDJSON batches every 100 ms so that ``rate`` events/s arrive."""
    events = generate_events(count=None, seed=int(time.time()), rate=rate)
    per_batch = max(1, int(rate / 10))
    headers = {"content-type": "application/x-ndjson", **clients.ingest_headers}
    with httpx.Client(timeout=10.0, verify=clients.verify) as client:
        next_at = time.monotonic()
        while not stop.is_set():
            batch = [next(events) for _ in range(per_batch)]
            now = datetime.now(UTC).isoformat(timespec="milliseconds")
            for e in batch:
                e["ts"] = now  # live traffic: event time is now
            # the collector restarting or gone only costs this batch: it is live traffic
            with contextlib.suppress(httpx.HTTPError):
                client.post(f"{collector}/v1/logs", content=ndjson(batch), headers=headers)
            next_at += 0.1
            stop.wait(max(0.0, next_at - time.monotonic()))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run_demo(args: argparse.Namespace) -> int:
    settings = load_settings(
        overrides={"data_dir": args.data_dir, "broker": args.broker, "store": args.store}
    )
    if args.replay and not os.environ.get("SQUALL_EVENTS_RETENTION_DAYS"):
        # a replayed file is old (tests/data/apache_logs is from 2015): a retention counted
        # from the wall clock would drop its events as they load, so the demo keeps all
        settings = replace(settings, events_retention_days=0)
    clients = _Clients(settings)
    collector = f"{scheme(settings)}://{settings.collector_host}:{settings.collector_port}"
    serve = f"{scheme(settings)}://{settings.serve_host}:{settings.serve_port}"
    parts = ProcessGroup(_env(settings), settings.data_dir.resolve() / "logs")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _interrupt)  # stop the children on SIGTERM too
    try:
        if not args.external:  # else they run elsewhere (compose waits for their health)
            for name in ("collector", "topology", "serve"):
                parts.start(name)
            parts.wait_http("collector", f"{collector}/healthz", verify=clients.verify)
            parts.wait_http("query API", f"{serve}/healthz", verify=clients.verify)
        shown, shown_api = args.show or (collector, serve)
        print(f"collector  {shown}  (POST /events, /v1/logs)")
        print(f"dashboard  {shown_api}/")
        print(f"pipeline   {shown_api}/pipeline  (workers, consumer lag, collector; squall status)")
        print(f"query API  {shown_api}/api/v1/query")
        if not args.external:
            print(f"state in {settings.data_dir.resolve()}, logs in {parts.log_dir}")
        if args.replay:
            from squall.ingest.send import send_file

            before = _visible_events(f"{serve}/api/v1/query", clients)
            started = time.monotonic()
            sent = send_file(
                args.replay,
                url=collector,
                service=args.service,
                token=clients.ingest_token,
                verify=clients.verify,
            )
            print(f"sent {sent:,} events from {args.replay}; waiting for them in the query API")
            while _visible_events(f"{serve}/api/v1/query", clients) < before + sent:
                parts.check()
                time.sleep(0.2)
            print(
                f"all {sent:,} events visible in the query API "
                f"{time.monotonic() - started:.1f}s after the first was sent"
            )
        if args.generate:
            threading.Thread(
                target=_generate, args=(collector, args.generate, stop, clients), daemon=True
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
