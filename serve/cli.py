"""``squall serve``: the loader (``logs.metrics`` -> store) and the query API + dashboard;
``squall status``: the pipeline's workers, consumer lag and collector, printed."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from squall.settings import Settings, load_settings

__all__ = ["format_status", "run_serve", "run_status", "serve_settings"]

log = logging.getLogger(__name__)


def serve_settings(args: argparse.Namespace) -> Settings:
    """Settings with the global flags (--data-dir, --broker, --store) on top."""
    data_dir = getattr(args, "data_dir", None)
    return load_settings(
        overrides={
            "data_dir": Path(data_dir) if data_dir else None,
            "broker": getattr(args, "broker", None),
            "store": getattr(args, "store", None),
        }
    )


def run_serve(args: argparse.Namespace) -> int:
    """Run until interrupted; the store's offsets make a restart resume exactly."""
    import uvicorn

    from squall.serve.service import ServeStage
    from squall.tls import uvicorn_tls

    settings = serve_settings(args)
    tls = uvicorn_tls(settings)
    with ServeStage(settings) as stage:
        log.info(
            "query API and dashboard on %s (store %s, broker %s)",
            stage.url,
            stage.store.url,
            stage.broker.url,
        )
        uvicorn.run(
            stage.app,
            host=settings.serve_host,
            port=settings.serve_port,
            log_level="warning",
            **tls,
        )
    return 0


def _n(value: Any, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def format_status(status: dict[str, Any]) -> str:
    """``PipelineStatus.read()`` as the text ``squall status`` prints."""
    lines = [f"pipeline status at {status['time']}"]
    c = status["collector"]
    if c["up"]:
        rejected = sum(c["rejected_requests"].values())
        fill = "-" if c["channel_fill"] is None else f"{100 * c['channel_fill']:.1f} %"
        lines.append(
            f"collector {c['url']}: accepted {_n(c['accepted_events'])} events "
            f"({_n(c['accepted_per_s'], 1)}/s), rejected {_n(rejected)} requests "
            f"({_n(c['rejected_per_s'], 2)}/s), channel {_n(c['channel_events'])} of "
            f"{_n(c['channel_capacity_events'])} events ({fill}), "
            f"sink lag {_n(c['sink_lag_s'], 1)} s"
        )
    else:
        lines.append(f"collector: not answering ({c['error']})")
    lag = status["lag"]
    if lag["error"]:
        lines.append(f"consumer lag of {lag['group']} on {lag['topic']}: {lag['error']}")
    else:
        lines.append(f"consumer lag of {lag['group']} on {lag['topic']}: {_n(lag['total'])}")
        for p in lag["partitions"]:
            lines.append(
                f"  {lag['topic']}[{p['partition']}]  end {_n(p['end'])}  "
                f"committed {_n(p['committed'])}  lag {_n(p['lag'])}"
            )
    workers = status["workers"]
    if workers["error"]:
        lines.append(f"workers: {workers['error']}")
    elif not workers["snapshots"]:
        lines.append(f"workers: none has published to {workers['topic']}")
    head = (
        f"    {'component':<12}{'tasks':>6}{'emitted':>12}{'acked':>12}{'failed':>8}"
        f"{'executed':>12}{'capacity':>10}{'exec ms':>9}{'p50 ms':>9}{'p99 ms':>9}"
    )
    for s in workers["snapshots"]:
        state = f"stale: silent {s['age_s']:.0f} s" if s["stale"] else f"{s['age_s']:.1f} s ago"
        lines.append(
            f"worker {s['topology']} #{s['worker']} ({s['host']}, pid {s['pid']}), "
            f"up {s['uptime_s']:.0f} s, {state}"
        )
        lines.append(head)
        for m in s["components"]:
            lines.append(
                f"    {m['component']:<12}{m['tasks']:>6}{m['emitted']:>12,}{m['acked']:>12,}"
                f"{m['failed']:>8,}{m['executed']:>12,}{100 * m['capacity']:>9.1f}%"
                f"{m['execute_latency_ms']:>9.3f}{m['complete_latency_ms_p50']:>9.1f}"
                f"{m['complete_latency_ms_p99']:>9.1f}"
            )
    return "\n".join(lines)


def run_status(args: argparse.Namespace) -> int:
    """Read the workers topic to its end, the lag and the collector twice (for rates)."""
    from squall.broker import open_broker
    from squall.serve.pipeline import PipelineStatus

    settings = serve_settings(args)
    with open_broker(settings.broker_url) as broker:
        status = PipelineStatus(broker, settings).start()
        try:
            status.collector.read()  # the first read of a rate
            began = time.monotonic()
            status.workers.caught_up.wait(timeout=10)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - began)))  # a second of rates
            print(format_status(status.read()))
        finally:
            status.close()
    return 0
