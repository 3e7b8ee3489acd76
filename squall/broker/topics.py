"""The pipeline's topics (``squall.topics``) made on a broker: idempotently, by every
stage that starts (collector, topology, loader), so start order does not matter."""

from __future__ import annotations

from squall.broker.base import Broker
from squall.settings import Settings
from squall.topics import topic_partitions

__all__ = ["ensure_topics"]


def ensure_topics(broker: Broker, settings: Settings) -> None:
    for topic, partitions in topic_partitions(settings).items():
        broker.create_topic(topic, partitions)
