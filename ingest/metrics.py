"""Prometheus metrics of one collector agent, in its own registry (so several agents,
e.g. in tests, do not clash). Channel depth and sink lag are read at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from squall.ingest.channels.base import ChannelStats

if TYPE_CHECKING:
    from squall.ingest.workers import PeerMetrics

__all__ = ["IngestMetrics"]


class _ChannelCollector(Collector):
    def __init__(self, stats: Callable[[], ChannelStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self._stats()
        yield GaugeMetricFamily(
            "squall_ingest_channel_events",
            "Events held by the channel (sink lag in events)",
            value=s.events,
        )
        yield GaugeMetricFamily(
            "squall_ingest_channel_bytes", "Bytes held by the channel", value=s.bytes
        )
        yield GaugeMetricFamily(
            "squall_ingest_channel_capacity_events",
            "Channel capacity in events",
            value=s.capacity_events,
        )
        yield GaugeMetricFamily(
            "squall_ingest_channel_capacity_bytes",
            "Channel capacity in bytes",
            value=s.capacity_bytes,
        )
        yield GaugeMetricFamily(
            "squall_ingest_sink_lag_seconds",
            "Age of the oldest event not yet delivered by the sink",
            value=s.oldest_age,
        )


class IngestMetrics:
    """Counters the source and sink runner update; ``render`` gives the exposition text."""

    def __init__(self) -> None:
        self.peers: PeerMetrics | None = None  # set in a worker of several (ingest.workers)
        self.registry = CollectorRegistry()
        r = self.registry
        self.accepted_events = Counter(
            "squall_ingest_accepted_events",
            "Events accepted durably into the channel",
            registry=r,
        )
        self.accepted_requests = Counter(
            "squall_ingest_accepted_requests", "Requests answered 200", registry=r
        )
        self.filtered_events = Counter(
            "squall_ingest_filtered_events",
            "Events dropped by a regex_filter interceptor",
            registry=r,
        )
        self.rejected_requests = Counter(
            "squall_ingest_rejected_requests",
            "Requests refused, by reason",
            ["reason"],
            registry=r,
        )
        self.rejected_records = Counter(
            "squall_ingest_rejected_records",
            "Log records left out of an accepted request (OTLP partial success), by reason",
            ["reason"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "squall_ingest_request_seconds",
            "Time to accept a request durably",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.sink_events = Counter(
            "squall_ingest_sink_events", "Events delivered by the sink", registry=r
        )
        self.sink_errors = Counter(
            "squall_ingest_sink_errors",
            "Sink batches that failed and were retried",
            registry=r,
        )

    def watch_channel(self, stats: Callable[[], ChannelStats]) -> None:
        self.registry.register(_ChannelCollector(stats))

    def render_own(self) -> bytes:
        """This process's figures alone."""
        return generate_latest(self.registry)

    def render(self) -> bytes:
        """The figures of the collector: of all its workers when it has several."""
        own = self.render_own()
        return self.peers.merge(own) if self.peers is not None else own
