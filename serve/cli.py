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

    from serve.app import create_app
    from serve.loader import Loader
    from serve.store import OffsetStore, open_store
    from squall.broker import open_broker
    from squall.topics import ensure_topics

    settings = serve_settings(args)
    store = open_store(settings.store_url)
    broker = open_broker(settings.broker_url)
    loader = None
    try:
        if isinstance(store, OffsetStore):
            ensure_topics(broker, settings)
            loader = Loader(broker, store, settings.topic_metrics)
            loader.start()
        else:
            log.info("%s loads %s itself; no loader started", store.url, settings.topic_metrics)
        app = create_app(store, settings.query_tokens, health=loader.stats if loader else None)
        log.info(
            "query API and dashboard on http://%s:%d/ (store %s, broker %s)",
            settings.serve_host,
            settings.serve_port,
            store.url,
            broker.url,
        )
        uvicorn.run(app, host=settings.serve_host, port=settings.serve_port, log_level="warning")
    finally:
        if loader is not None:
            loader.stop()
        store.close()
        broker.close()
    return 0
