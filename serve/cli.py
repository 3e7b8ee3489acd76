"""``squall serve``: the loader (``logs.metrics`` -> store) and the query API + dashboard."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from squall.settings import Settings, load_settings

__all__ = ["run_serve", "serve_settings"]

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

    settings = serve_settings(args)
    with ServeStage(settings) as stage:
        log.info(
            "query API and dashboard on %s (store %s, broker %s)",
            stage.url,
            stage.store.url,
            stage.broker.url,
        )
        uvicorn.run(
            stage.app, host=settings.serve_host, port=settings.serve_port, log_level="warning"
        )
    return 0
