"""The pipeline's topics and their partition counts (``squall.broker.ensure_topics``
makes them on a broker)."""

from __future__ import annotations

from squall.settings import Settings

__all__ = [
    "DEADLETTER_PARTITIONS",
    "EVENTS_PARTITIONS",
    "METRICS_PARTITIONS",
    "RAW_PARTITIONS",
    "WORKERS_PARTITIONS",
    "topic_partitions",
]

RAW_PARTITIONS = 6  # keyed by service: the unit of parallelism of the compute tier
METRICS_PARTITIONS = 3
DEADLETTER_PARTITIONS = 1
EVENTS_PARTITIONS = 3  # records of parsed events keyed by service, as logs.metrics
WORKERS_PARTITIONS = 1  # a few small snapshots a second at most: one reader sees them in order


def topic_partitions(settings: Settings) -> dict[str, int]:
    """Partition count per topic of ``settings``."""
    return {
        settings.topic_raw: RAW_PARTITIONS,
        settings.topic_metrics: METRICS_PARTITIONS,
        settings.topic_deadletter: DEADLETTER_PARTITIONS,
        settings.topic_workers: WORKERS_PARTITIONS,
        settings.topic_events: EVENTS_PARTITIONS,
    }
