"""Tunables of the Kafka clients, with defaults chosen for Squall's pipeline."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KafkaOptions"]


@dataclass(frozen=True)
class KafkaOptions:
    """Client settings; every producer and consumer of one KafkaBroker shares them.

    Producers always use acks=all and idempotence (no duplicates on retry).
    ``linger_ms`` and ``batch_size`` trade a few milliseconds of latency for batches;
    ``compression`` is any codec kafka-python supports here (``gzip`` always, ``lz4``
    as Squall installs it; ``snappy``, ``zstd`` with their packages) or None. lz4 costs
    the producer little and makes consumers faster (bench/kafka_raw.py). The timeouts bound how
    long a call may block while the broker is unreachable before it raises
    BrokerUnavailable, so callers (the collector's channel, the spout) can back off.
    """

    client_id: str = "squall"
    compression: str | None = "lz4"
    linger_ms: int = 5
    batch_size: int = 256 * 1024
    bootstrap_timeout_ms: int = 5_000  # connecting at construction
    request_timeout_ms: int = 15_000
    max_block_ms: int = 15_000  # send(): waiting for metadata or buffer space
    delivery_timeout_ms: int = 60_000  # a record not acknowledged by then fails
    transaction_timeout_ms: int = 60_000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000  # a member hears of a rebalance this soon
    max_poll_interval_ms: int = 300_000
    fetch_max_wait_ms: int = 100
    reconnect_backoff_max_ms: int = 1_000  # reconnect soon after a broker restart
    metadata_max_age_ms: int = 10_000  # consumers notice new topics/partitions this soon
    # for create_topic; -1 = the brokers' default.replication.factor (1 on the local stack,
    # 3 in the compose stack's cluster profile)
    replication_factor: int = -1
