"""Kafka's default partitioner for keyed records, shared by both backends, so a key
lands in the same partition on the local log as on Kafka (partition-local work relies
on it)."""

from __future__ import annotations

import warnings

# Importing kafka warns (DeprecationWarning from importlib.resources in kafka-python):
# that is kafka-python's business, not our users'.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.partitioner.default import murmur2

__all__ = ["KeyPartitioner"]

_REMEMBERED = 4096


class KeyPartitioner:
    """murmur2 of the key, made positive, modulo the partition count, as Java's and
    kafka-python's DefaultPartitioner compute it; remembered, since keys repeat
    (services) and murmur2 here is Python code."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[tuple[bytes, int], int] = {}

    def __call__(self, key: bytes, partitions: int) -> int:
        known = self._known
        partition = known.get((key, partitions))
        if partition is None:
            if len(known) >= _REMEMBERED:
                known.clear()
            partition = known[(key, partitions)] = (murmur2(key) & 0x7FFFFFFF) % partitions
        return partition
