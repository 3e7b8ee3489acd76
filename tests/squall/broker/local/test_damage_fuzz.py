"""The local log after damage to its write-ahead log (SQLite WAL), for damage hypothesis
picks: cut anywhere, bytes flipped anywhere past the WAL header, garbage appended, as a
crash or a bad disk leaves it. Opening never fails, and every transaction whose frames
lie wholly before the first damaged byte is there, in order; none comes back half."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from squall.broker.local import LocalBroker

TXNS = 10
WAL_HEADER = 32  # bytes; damage there loses the whole WAL by SQLite's design


def _txn(i: int) -> list[bytes]:
    return [b"txn %d record %d " % (i, j) + b"x" * 300 for j in range(i % 4 + 1)]


@dataclass(frozen=True)
class Crashed:
    """A local log copied while its writer was still running (as kill -9 leaves it),
    its WAL's bytes, and the WAL's size after each commit."""

    root: Path
    wal: bytes
    ends: list[int]


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Crashed:
    live, snapshot = tmp_path_factory.mktemp("live"), tmp_path_factory.mktemp("crashed")
    broker = LocalBroker(live)
    broker.create_topic("t", 1)
    producer = broker.producer(transactional_id="writer")
    with sqlite3.connect(live / "log.sqlite3") as conn:  # the topic into the main file:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL holds only the records
    wal = live / "log.sqlite3-wal"
    ends = []
    for i in range(TXNS):
        producer.begin_transaction()
        for value in _txn(i):
            producer.send("t", value, partition=0)
        producer.commit_transaction()
        ends.append(wal.stat().st_size)
    for name in ("log.sqlite3", "log.sqlite3-wal"):  # no -shm: a restart rebuilds it
        shutil.copy2(live / name, snapshot / name)
    producer.close()
    broker.close()
    assert ends == sorted(ends) and ends[0] > WAL_HEADER  # no checkpoint in between
    return Crashed(snapshot, (snapshot / "log.sqlite3-wal").read_bytes(), ends)


def _values(broker: LocalBroker) -> list[bytes]:
    consumer = broker.consumer("reader", ["t"])
    out: list[bytes] = []
    try:
        for _ in range(1000):  # until a poll with the partition assigned comes back empty
            records = consumer.poll(max_records=1000, timeout=0.2)
            if not records and consumer.assignment():
                return out
            out += [r.value for r in records]
        raise AssertionError(f"the reader never got topic t's partition; read {len(out)}")
    finally:
        consumer.close()
    return out


def _damage(draw: st.DataObject, data: bytes) -> tuple[bytes, int]:
    kind = draw.draw(st.sampled_from(["cut", "flip", "append"]))
    if kind == "cut":
        at = draw.draw(st.integers(WAL_HEADER, len(data) - 1))
        return data[:at], at
    if kind == "append":
        return data + draw.draw(st.binary(min_size=1, max_size=5000)), len(data)
    damaged = bytearray(data)
    spots = draw.draw(
        st.lists(st.integers(WAL_HEADER, len(data) - 1), min_size=1, max_size=3, unique=True)
    )
    for at in spots:
        damaged[at] ^= draw.draw(st.integers(1, 255))
    return bytes(damaged), min(spots)


@settings(max_examples=100, deadline=None, database=None)  # the WAL differs per run
@given(draw=st.data())
def test_reopening_keeps_every_transaction_before_the_damage(
    crashed: Crashed, draw: st.DataObject
) -> None:
    wal, first_bad = _damage(draw, crashed.wal)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "log"
        shutil.copytree(crashed.root, root)
        (root / "log.sqlite3-wal").write_bytes(wal)
        broker = LocalBroker(root)
        try:
            got = _values(broker)
        finally:
            broker.close()
    want = [v for i in range(TXNS) for v in _txn(i)]
    sizes = [len(_txn(i)) for i in range(TXNS)]
    intact = sum(1 for end in crashed.ends if end <= first_bad)
    assert got == want[: len(got)]
    assert len(got) in {sum(sizes[:n]) for n in range(TXNS + 1)}
    assert len(got) >= sum(sizes[:intact])
