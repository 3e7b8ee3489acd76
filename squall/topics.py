"""The pipeline's topics and their partition counts, created idempotently by every
stage that starts (collector, topology, loader), so start order does not matter."""

from __future__ import annotations

from squall.broker import Broker
from squall.settings import Settings

__all__ = [
    "DEADLETTER_PARTITIONS",
    "METRICS_PARTITIONS",
    "RAW_PARTITIONS",
    "ensure_topics",
    "topic_partitions",
]

RAW_PARTITIONS = 6  # keyed by service: the unit of parallelism of the compute tier
METRICS_PARTITIONS = 3
DEADLETTER_PARTITIONS = 1


def topic_partitions(settings: Settings) -> dict[str, int]:
    """Partition count per topic of ``settings``."""
    return {
        settings.topic_raw: RAW_PARTITIONS,
        settings.topic_metrics: METRICS_PARTITIONS,
        settings.topic_deadletter: DEADLETTER_PARTITIONS,
    }


def ensure_topics(broker: Broker, settings: Settings) -> None:
    for topic, partitions in topic_partitions(settings).items():
        broker.create_topic(topic, partitions)
