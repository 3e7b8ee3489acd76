"""The pipeline's topics and their partition counts, created idempotently by every
stage that starts (collector, topology, loader), so start order does not matter."""

from __future__ import annotations

from squall.broker import Broker
from squall.settings import Settings

__all__ = ["ensure_topics", "topic_partitions"]


def topic_partitions(settings: Settings) -> dict[str, int]:
    """``logs.raw`` 6 partitions (keyed by service), ``logs.metrics`` 3, dead letters 1."""
    return {settings.topic_raw: 6, settings.topic_metrics: 3, settings.topic_deadletter: 1}


def ensure_topics(broker: Broker, settings: Settings) -> None:
    for topic, partitions in topic_partitions(settings).items():
        broker.create_topic(topic, partitions)
