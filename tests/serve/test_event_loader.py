"""The event loader against the real local log: every event loads once, a restart or a
redelivery loads nothing twice, lines that are not events are skipped and counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from squall.broker import Broker, TopicPartition
from squall.broker.local import LocalBroker
from squall.schema import EVENT_COLUMNS
from squall.serve.duckdb_store import DuckDBStore
from squall.serve.event_loader import EventLoader
from squall.serve.search import SearchQuery

TOPIC = "logs.events"
PARTITIONS = 3
NAMES = [c.name for c in EVENT_COLUMNS]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    b = LocalBroker(tmp_path / "log", session_timeout=1.0)
    b.create_topic(TOPIC, PARTITIONS)
    yield b
    b.close()


def event(i: int) -> bytes:
    values = [1_431_900_000_000 + i, "web", "/a", 200, "GET", None, 1.5, 10, "h", f"e{i:05d}"]
    return orjson.dumps(dict(zip(NAMES, [*values, f"line {i}"], strict=True)))


def produce(broker: Broker, first: int, count: int, per_record: int = 50) -> None:
    producer = broker.producer()
    for start in range(first, first + count, per_record):
        lines = [event(i) for i in range(start, min(start + per_record, first + count))]
        producer.send(TOPIC, b"\n".join(lines), key=str(start % 7).encode())
    producer.flush()
    producer.close()


def caught_up(loader: EventLoader, broker: Broker, timeout: float = 30) -> None:
    ends = broker.end_offsets(TopicPartition(TOPIC, p) for p in range(PARTITIONS))
    want = {tp.partition: o for tp, o in ends.items() if o}
    deadline = time.monotonic() + timeout
    while loader.events.offsets(TOPIC) != want:
        assert time.monotonic() < deadline, "the event loader did not catch up"
        loader.step()


def stored_ids(store: DuckDBStore) -> list[str]:
    rows = store.events.search(SearchQuery(0, 2**62, limit=10_000))
    return sorted(r[NAMES.index("id")] for r in rows)


def test_every_event_loads_once_across_a_restart_and_bad_lines_are_skipped(
    broker: LocalBroker, tmp_path: Path
) -> None:
    path = tmp_path / "store.duckdb"
    produce(broker, 0, 1000)
    store = DuckDBStore(path)
    loader = EventLoader(broker, store.events, TOPIC, "g", retention_days=0)
    caught_up(loader, broker)
    loader.close()
    store.close()

    producer = broker.producer()  # a record with one good line and two bad ones
    producer.send(TOPIC, b"\n".join([event(5000), b"{not json", b'{"time": "soon"}']))
    producer.flush()
    producer.close()
    produce(broker, 1000, 500)
    store = DuckDBStore(path)  # a restart: resumes at the stored offsets, a new group too
    loader = EventLoader(broker, store.events, TOPIC, "another-group", retention_days=0)
    caught_up(loader, broker)
    try:
        assert stored_ids(store) == sorted([f"e{i:05d}" for i in range(1500)] + ["e05000"])
        assert loader.rows_skipped == 2
        assert loader.stats()["event_loader"]["lines_skipped"] == 2
    finally:
        loader.close()
        store.close()


def test_the_loader_applies_the_retention(broker: LocalBroker) -> None:
    store = DuckDBStore(":memory:")
    try:
        now = int(time.time() * 1000)
        old = dict(
            zip(
                NAMES,
                [
                    now - 9 * 86_400_000,
                    "s",
                    "/",
                    200,
                    "GET",
                    None,
                    None,
                    0,
                    None,
                    "old",
                    "old line",
                ],
                strict=True,
            )
        )
        new = {**old, "time": now, "id": "new", "line": "new line"}
        producer = broker.producer()
        producer.send(TOPIC, orjson.dumps(old) + b"\n" + orjson.dumps(new))
        producer.flush()
        producer.close()
        loader = EventLoader(broker, store.events, TOPIC, "g", retention_days=7)
        caught_up(loader, broker)
        assert stored_ids(store) == ["new", "old"]  # loaded after this step's retention
        loader.retention_every = 0.0
        loader.step()
        assert stored_ids(store) == ["new"] and loader.events_dropped == 1
        loader.close()
    finally:
        store.close()
