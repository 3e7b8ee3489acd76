"""The agent: one source, an interceptor chain, one channel and one sink runner, wired
from a ``CollectorConfig`` (Flume's agent), with a FastAPI app whose lifespan starts
the sink runner and closes the channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from squall.auth import BearerAuth
from squall.gc_tuning import frozen_gc
from squall.ingest.channels import Channel, FileChannel, MemoryChannel
from squall.ingest.config import CollectorConfig
from squall.ingest.interceptors import InterceptorChain, build_chain
from squall.ingest.metrics import IngestMetrics
from squall.ingest.runner import SinkRunner
from squall.ingest.sinks import BrokerSink, FileSink, NullSink, Sink
from squall.ingest.source import HttpSource, Limits

__all__ = ["Agent", "build_agent"]

_RUNNER_OPTIONS = ("batch_size", "backoff_initial", "backoff_max")


class Agent:
    """A running collector: ``app`` serves HTTP; its lifespan owns the sink runner."""

    def __init__(
        self,
        channel: Channel,
        sink: Sink,
        chain: InterceptorChain | None = None,
        limits: Limits | None = None,
        tokens: tuple[str, ...] = (),
        runner_options: dict[str, Any] | None = None,
    ) -> None:
        self.metrics = IngestMetrics()
        self.channel = channel
        self.metrics.watch_channel(channel.stats)
        self.runner = SinkRunner(channel, sink, metrics=self.metrics, **(runner_options or {}))
        self.source = HttpSource(
            channel,
            chain or InterceptorChain(),
            self.metrics,
            limits,
            BearerAuth(tokens, "this collector"),
            health=lambda: {"sink": self.runner.status()},
        )
        self.app = self.source.app(lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self.runner.start()
        try:
            with frozen_gc():  # squall.gc_tuning: tens of ms of p99 latency otherwise
                yield
        finally:
            drain = 5.0 if isinstance(self.channel, MemoryChannel) else 0.0
            try:
                self.runner.stop(drain_timeout=drain)
            finally:
                self.channel.close()


def _channel(spec: dict[str, Any]) -> Channel:
    options = {k: v for k, v in spec.items() if k != "type"}
    if spec["type"] == "memory":
        return MemoryChannel(**options)
    return FileChannel(options.pop("dir"), **options)


def _sink(spec: dict[str, Any]) -> Sink:
    options = {k: v for k, v in spec.items() if k != "type" and k not in _RUNNER_OPTIONS}
    if spec["type"] == "broker":
        return BrokerSink(**options)
    if spec["type"] == "file":
        return FileSink(**options)
    return NullSink()


def build_agent(config: CollectorConfig) -> Agent:
    """An agent from a resolved configuration (opens, and replays, the channel)."""
    chain = build_chain(config.interceptors)
    return Agent(
        _channel(config.channel),
        _sink(config.sink),
        chain,
        config.limits,
        tuple(config.source.get("tokens", ())),
        {k: v for k, v in config.sink.items() if k in _RUNNER_OPTIONS},
    )
