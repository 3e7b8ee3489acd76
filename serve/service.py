"""The serve stage assembled in one process: store, loader thread and the HTTP app.

``squall serve`` runs it under uvicorn; the demo can run the same object next to the
collector and the topology::

    with ServeStage(settings) as stage:     # opens the store, starts the loader
        uvicorn.run(stage.app, host=settings.serve_host, port=settings.serve_port)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from squall.broker import Broker, ensure_topics, open_broker
from squall.serve.app import create_app
from squall.serve.duckdb_events import DuckDBEvents
from squall.serve.event_loader import EventLoader
from squall.serve.loader import Loader
from squall.serve.pipeline import PipelineStatus
from squall.serve.store import OffsetStore, Store, open_store
from squall.settings import Settings
from squall.tls import scheme

__all__ = ["ServeStage"]

log = logging.getLogger(__name__)


class ServeStage:
    """Opens the store and broker of ``settings``; starts the loader when the store
    loads from the broker itself (DuckDB; Druid has its own Kafka supervisor)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = f"{scheme(settings)}://{settings.serve_host}:{settings.serve_port}/"
        self.store: Store = open_store(
            settings.store_url,
            timeout=settings.query_timeout,
            events_datasource=settings.events_datasource,
            duckdb_memory_limit=settings.duckdb_memory_limit,
            datasource=settings.datasource,
        )
        self.loader: Loader | None = None
        self.event_loader: EventLoader | None = None
        self.pipeline: PipelineStatus | None = None
        try:
            self.broker: Broker = open_broker(settings.broker_url)
        except BaseException:
            self.store.close()
            raise
        try:
            if isinstance(self.store, OffsetStore):
                ensure_topics(self.broker, settings)
                self.loader = Loader(
                    self.broker,
                    self.store,
                    settings.topic_metrics,
                    f"{settings.group_prefix}-serve-loader",
                )
                self.loader.start()
                if settings.events and isinstance(self.store.events, DuckDBEvents):
                    self.event_loader = EventLoader(
                        self.broker,
                        self.store.events,
                        settings.topic_events,
                        f"{settings.group_prefix}-serve-events",
                        retention_days=settings.events_retention_days,
                    )
                    self.event_loader.start()
            health = self._health if self.loader else None
            self.pipeline = PipelineStatus(self.broker, settings).start()
            self.app: FastAPI = create_app(
                self.store, settings.query_tokens, health=health, pipeline=self.pipeline.read
            )
        except BaseException:
            self.close()
            raise

    def _health(self) -> Mapping[str, Any]:
        out: dict[str, Any] = {}
        for loader in (self.loader, self.event_loader):
            if loader is not None:
                out.update(loader.stats())
        return out

    def close(self) -> None:
        """Stop the loaders (each finishes its batch), then close the store and broker."""
        try:
            if self.pipeline is not None:
                self.pipeline.close()
            if self.event_loader is not None:
                self.event_loader.stop()
            if self.loader is not None:
                self.loader.stop()
        finally:
            self.store.close()
            self.broker.close()

    def __enter__(self) -> ServeStage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
