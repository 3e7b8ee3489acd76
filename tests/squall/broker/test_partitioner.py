"""KeyPartitioner picks the partition Kafka's Java producer picks for a keyed record."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squall.broker.partitioner import KeyPartitioner

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.partitioner.default import murmur2


# Output of Java's org.apache.kafka.clients.producer.Partitioner for 1000 partitions
# (the compatibility vectors kafka-python tests itself against).
@pytest.mark.parametrize(
    ("key", "partition"),
    [(b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742)],
)
def test_java_compatibility(key: bytes, partition: int) -> None:
    partitioner = KeyPartitioner()
    assert partitioner(key, 1000) == partition
    assert partitioner(key, 1000) == partition  # and again, from memory


@given(keys=st.lists(st.binary(max_size=40), min_size=1, max_size=30), n=st.integers(1, 64))
def test_remembered_answers_equal_fresh_ones(keys: list[bytes], n: int) -> None:
    partitioner = KeyPartitioner()
    for key in keys + keys + keys:
        assert partitioner(key, n) == (murmur2(key) & 0x7FFFFFFF) % n


def test_a_key_is_remembered_per_partition_count() -> None:
    partitioner = KeyPartitioner()
    first = {n: partitioner(b"abc", n) for n in (7, 1000, 3)}
    assert first == {n: (murmur2(b"abc") & 0x7FFFFFFF) % n for n in (7, 1000, 3)}
    assert partitioner(b"abc", 1000) == 107


def test_stays_right_past_its_memory_bound() -> None:
    partitioner = KeyPartitioner()
    for i in range(10_000):
        key = f"user-{i}".encode()
        assert partitioner(key, 6) == (murmur2(key) & 0x7FFFFFFF) % 6
    assert partitioner(b"a", 1000) == 524
