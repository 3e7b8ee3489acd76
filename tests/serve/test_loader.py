"""The loader against the real local log: everything loads once, whatever happens.

Ground truth is the raw events behind the rows; every check goes through the store's
answers (and the HTTP API for the end-to-end case).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from squall.broker import Broker, TopicPartition
from squall.broker.local import LocalBroker
from squall.serve.app import create_app
from squall.serve.duckdb_store import DuckDBStore
from squall.serve.exceptions import StoreError
from squall.serve.loader import Loader
from squall.serve.query import parse_query

TOPIC = "logs.metrics"
PARTITIONS = 3
GROUP = "test-loader"
WHOLE = "2015-05-17T22:00:00Z/2015-05-18T02:00:00Z"
SERIES = {
    "queryType": "timeseries",
    "interval": WHOLE,
    "granularity": "hour",
    "metrics": ["events", "errors", "bytes", "latency_avg", "latency_p95", "unique_users"],
}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    b = LocalBroker(tmp_path / "log", session_timeout=1.0)
    b.create_topic(TOPIC, PARTITIONS)
    yield b
    b.close()


def produce(broker: Broker, values: list[bytes]) -> None:
    producer = broker.producer()
    for i, value in enumerate(values):
        producer.send(TOPIC, value, key=str(i % 7).encode())
    producer.flush()
    producer.close()


def encoded(rows: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(r) for r in rows]


def end_offsets(broker: Broker) -> dict[int, int]:
    ends = broker.end_offsets(TopicPartition(TOPIC, p) for p in range(PARTITIONS))
    return {tp.partition: o for tp, o in ends.items() if o}


def load_until_caught_up(loader: Loader, broker: Broker, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while loader.store.offsets(TOPIC) != end_offsets(broker):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the loader did not catch up"
        loader.step()


def check_store(gt: Any, store: DuckDBStore, events: list[Any]) -> None:
    rows = store.query(parse_query(SERIES))
    start, end = (gt.parse_iso(t) for t in WHOLE.split("/"))
    want = gt.truth(events, start, end, "hour")
    gt.check_rows(rows, want, ())
    assert sum(r["events"] for r in rows) == len(events)


def test_loads_every_row_once(
    gt: Any,
    broker: LocalBroker,
    few_events: list[Any],
    few_rows: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    with DuckDBStore(tmp_path / "m.duckdb") as store:
        loader = Loader(broker, store, TOPIC, GROUP, max_records=700)
        produce(broker, encoded(few_rows[:2000]))
        load_until_caught_up(loader, broker)
        produce(broker, encoded(few_rows[2000:]))
        load_until_caught_up(loader, broker)
        loader.close()
        check_store(gt, store, few_events)
        assert loader.rows_loaded == loader.records_consumed == len(few_rows)
        assert loader.rows_skipped == 0


def test_no_double_load_when_the_broker_commit_was_lost(
    gt: Any,
    broker: LocalBroker,
    few_events: list[Any],
    few_rows: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """A crash after the store commit but before the broker commit: the group's offsets
    are behind the store's. The next loader must start from the store's offsets."""
    produce(broker, encoded(few_rows[:2500]))
    with DuckDBStore(tmp_path / "m.duckdb") as store:
        first = Loader(broker, store, TOPIC, GROUP)
        load_until_caught_up(first, broker)
        first.close()
        rewind = broker.consumer(GROUP, [TOPIC])  # the group forgets what was loaded
        deadline = time.monotonic() + 10
        while len(rewind.assignment()) < PARTITIONS:
            assert time.monotonic() < deadline
            rewind.poll(1, timeout=0.05)
        rewind.commit({TopicPartition(TOPIC, p): 0 for p in range(PARTITIONS)})
        rewind.close()

        second = Loader(broker, store, TOPIC, GROUP)
        produce(broker, encoded(few_rows[2500:]))
        load_until_caught_up(second, broker)
        second.close()
        check_store(gt, store, few_events)
        assert second.records_consumed == len(few_rows) - 2500


def test_a_new_store_is_rebuilt_from_the_topic(
    gt: Any,
    broker: LocalBroker,
    few_events: list[Any],
    few_rows: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    produce(broker, encoded(few_rows))
    with DuckDBStore(tmp_path / "old.duckdb") as store:
        loader = Loader(broker, store, TOPIC, GROUP)
        load_until_caught_up(loader, broker)
        loader.close()
    with DuckDBStore(tmp_path / "new.duckdb") as store:  # e.g. the old file was deleted
        loader = Loader(broker, store, TOPIC, GROUP)
        load_until_caught_up(loader, broker)
        loader.close()
        check_store(gt, store, few_events)


def test_records_that_are_not_rows_are_skipped(
    gt: Any,
    broker: LocalBroker,
    few_events: list[Any],
    few_rows: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    bad_row = {**few_rows[0], "events": "many"}
    corrupt = {**few_rows[1], "users_sketch": "AAECZ2FyYmFnZQ=="}  # base64, but no sketch
    poison = [
        b"not json",
        b"[1, 2]",
        b'"text"',
        orjson.dumps(bad_row),
        orjson.dumps([bad_row]),
        orjson.dumps(corrupt),
    ]
    values = encoded(few_rows)
    for i, p in enumerate(poison):
        values.insert(1000 * (i + 1), p)
    produce(broker, values)
    with DuckDBStore(tmp_path / "m.duckdb") as store:
        loader = Loader(broker, store, TOPIC, GROUP, max_records=2000)
        load_until_caught_up(loader, broker)
        loader.close()
        check_store(gt, store, few_events)
        assert loader.rows_skipped == len(poison) + 1  # "[1, 2]" holds two non-rows
        assert loader.records_consumed == len(values)


def test_background_thread_and_http(
    gt: Any,
    broker: LocalBroker,
    few_events: list[Any],
    few_rows: list[dict[str, Any]],
    tmp_path: Path,
    serve_http: Callable[[object], Any],
) -> None:
    with DuckDBStore(tmp_path / "m.duckdb") as store:
        loader = Loader(broker, store, TOPIC, GROUP)
        loader.start()
        try:
            with serve_http(create_app(store, health=loader.stats)) as client:
                produce(broker, encoded(few_rows))
                deadline = time.monotonic() + 30
                while client.get("/healthz").json()["loader"]["rows_loaded"] < len(few_rows):
                    assert time.monotonic() < deadline, "rows did not arrive"
                    time.sleep(0.02)  # polling the health endpoint for a condition
                health = client.get("/healthz").json()["loader"]
                assert health["lag"] == 0 and health["last_error"] is None
                got = client.post("/api/v1/query", json=SERIES).json()["rows"]
        finally:
            loader.stop()
        start, end = (gt.parse_iso(t) for t in WHOLE.split("/"))
        gt.check_rows(got, gt.truth(few_events, start, end, "hour"), ())
        assert sum(r["events"] for r in got) == len(few_events)


_CHILD = """
import sys
from squall.serve.duckdb_store import DuckDBStore
from squall.serve.exceptions import StoreError
from squall.serve.loader import Loader
from squall.broker.local import LocalBroker
broker = LocalBroker(sys.argv[1], session_timeout=1.0)
loader = Loader(broker, DuckDBStore(sys.argv[2]), "logs.metrics", "test-loader", max_records=200)
while True:
    print(loader.step(), flush=True)
"""


def test_kill_9_mid_load_then_restart(
    gt: Any,
    broker: LocalBroker,
    few_events: list[Any],
    few_rows: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    produce(broker, encoded(few_rows))
    path = tmp_path / "m.duckdb"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path / "log"), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        consumed = 0
        assert child.stdout is not None
        while consumed < len(few_rows) // 3:  # well into the load, many transactions done
            line = child.stdout.readline()
            assert line, "the loader process died"
            consumed += int(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    with DuckDBStore(path) as store:
        assert 0 < sum(store.offsets(TOPIC).values()) < len(few_rows)
        loader = Loader(broker, store, TOPIC, GROUP)
        load_until_caught_up(loader, broker)
        loader.close()
        check_store(gt, store, few_events)


class FlakyStore(DuckDBStore):
    """A DuckDB store whose writes fail now and then (a full disk, a lock), before
    anything is committed."""

    def __init__(self, path: Path, fail_every: int) -> None:
        super().__init__(path)
        self.fail_every = fail_every
        self.writes = 0
        self.failures = 0

    def write_with_offsets(self, rows: Any, topic: str, offsets: Any) -> None:
        self.writes += 1
        if self.writes % self.fail_every == 0:
            self.failures += 1
            raise StoreError("test: the disk is full")
        super().write_with_offsets(rows, topic, offsets)


def test_failed_writes_are_retried_from_the_stored_offsets(
    gt: Any,
    broker: LocalBroker,
    few_events: list[Any],
    few_rows: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    with FlakyStore(tmp_path / "m.duckdb", fail_every=3) as store:
        loader = Loader(broker, store, TOPIC, GROUP, max_records=300, retry_delay=0.05)
        loader.start()
        try:
            produce(broker, encoded(few_rows))
            deadline = time.monotonic() + 60
            while store.offsets(TOPIC) != end_offsets(broker):
                assert time.monotonic() < deadline, "the loader did not catch up"
                time.sleep(0.02)  # polling the store for a condition
        finally:
            loader.stop()
        assert store.failures >= 3
        check_store(gt, store, few_events)
