"""Handlers of ``squall collector`` and ``squall send`` (dispatched by squall.cli)."""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from squall.settings import Settings, load_settings

__all__ = ["run_collector", "run_send"]

log = logging.getLogger(__name__)


def _settings(args: argparse.Namespace, **extra: object) -> tuple[Settings, set[str]]:
    """Settings with flags on top, and the names set explicitly (by flag or variable)."""
    data_dir = getattr(args, "data_dir", None)
    overrides: dict[str, object] = {
        "data_dir": Path(data_dir) if data_dir else None,
        "broker": getattr(args, "broker", None),
        "store": getattr(args, "store", None),
        **extra,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    explicit = {f.name for f in fields(Settings) if os.environ.get(f"SQUALL_{f.name.upper()}")}
    return load_settings(overrides=overrides), explicit | set(overrides)


def run_collector(args: argparse.Namespace) -> int:
    """Run the collector agent under uvicorn (uvloop and httptools, its standard extras)
    until interrupted: in this process, or in ``--workers`` processes sharing the port."""
    import uvicorn

    from squall.ingest.agent import build_agent
    from squall.ingest.config import load_config
    from squall.ingest.workers import check_segments, serve_workers
    from squall.tls import scheme, uvicorn_tls

    settings, explicit = _settings(
        args,
        collector_host=getattr(args, "host", None),
        collector_port=getattr(args, "port", None),
        collector_workers=getattr(args, "workers", None),
    )
    path = getattr(args, "config", None) or os.environ.get("SQUALL_COLLECTOR_CONFIG") or None
    config = load_config(path, settings, explicit)
    workers = settings.collector_workers
    host, port = config.source["host"], int(config.source["port"])
    log.info(
        "collector on %s://%s:%d: %s channel, %s sink, %d interceptors%s, %d worker(s)",
        scheme(settings),
        host,
        port,
        config.channel["type"],
        config.sink["type"],
        len(config.interceptors),
        ", token auth on" if config.source.get("tokens") else "",
        workers,
    )
    options: dict[str, Any] = {
        "log_level": "debug" if getattr(args, "verbose", False) else "info",
        "access_log": False,
        "lifespan": "on",
        **uvicorn_tls(settings),
    }
    check_segments(config, workers)
    if workers > 1:
        return serve_workers(config, workers, options)
    uvicorn.run(build_agent(config).app, host=host, port=port, **options)
    return 0


def run_send(args: argparse.Namespace) -> int:
    """Ship a log file to the collector; print how many events it accepted."""
    from squall.ingest.send import send_file

    settings, _ = _settings(args)
    url = args.url or f"http://{settings.collector_host}:{settings.collector_port}"
    token = args.token or next(iter(sorted(settings.ingest_tokens)), None)
    accepted = send_file(
        args.file,
        url=url,
        service=args.service,
        batch=args.batch,
        token=token,
        gzip=getattr(args, "gzip", False),
    )
    print(f"sent {args.file}: {accepted} events accepted by {url}")
    return 0
