"""Fixtures for the broker contract suite: one ``broker`` per backend.

Every contract test runs on the embedded local log and on real Kafka (marked
``kafka``) through both clients, kafka-python and confluent-kafka. The Kafka cases
connect to ``SQUALL_TEST_KAFKA`` (default 127.0.0.1:9092, as ``squall stack up kafka``
starts it); with ``CI=true`` a broker that cannot be
reached fails the tests, elsewhere they are skipped with the reason. Contract tests use
fresh topic and group names, so they run against a shared, long-lived Kafka.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from squall.broker import Broker, Consumer, Record, open_broker

BACKENDS = [
    "local",
    pytest.param("kafka", marks=pytest.mark.kafka),
    pytest.param("confluent", marks=pytest.mark.kafka),
]


def _open(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Broker:
    if backend == "local":
        return open_broker(f"local://{tmp_path / 'log'}")
    if backend == "kafka":
        return open_broker(f"kafka://{request.getfixturevalue('kafka_bootstrap')}")
    if backend == "confluent":
        return open_broker(f"kafka://{request.getfixturevalue('kafka_bootstrap')}?client=confluent")
    raise AssertionError(f"no broker backend {backend!r}")


@pytest.fixture(params=BACKENDS)
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    b = _open(request.param, request, tmp_path)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """A fresh name with the given prefix (topics, groups, transactional ids)."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def new_topic(broker: Broker, unique: Callable[[str], str]) -> Callable[[int], str]:
    def make(partitions: int) -> str:
        name = unique("t")
        broker.create_topic(name, partitions)
        return name

    return make


def poll_until(
    consumers: Iterable[Consumer],
    done: Callable[[], bool],
    sink: dict[int, list[Record]] | None = None,
    deadline_s: float = 30.0,
) -> None:
    """Poll every consumer in turn until ``done()`` or the deadline (then fail).
    Records land in ``sink[index of consumer]``."""
    members = list(consumers)
    end = time.monotonic() + deadline_s
    while not done():
        assert time.monotonic() < end, "condition not reached before the deadline"
        for i, c in enumerate(members):
            records = c.poll(max_records=500, timeout=0.05)
            if sink is not None:
                sink.setdefault(i, []).extend(records)


@pytest.fixture
def poll() -> Callable[..., None]:
    return poll_until
