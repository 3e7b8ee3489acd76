"""The file channel's recovery from a damaged last segment, for damage hypothesis picks:
cut anywhere, bytes flipped anywhere, garbage appended. Reopening never fails, and every
transaction that lies wholly before the first damaged byte comes back, in order; none
after it comes back half."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from squall.ingest.channels import FileChannel
from squall.ingest.event import Event

TXNS = 12


def _txn(i: int) -> list[Event]:
    return [
        {"headers": {"t": str(i), "k": str(j)}, "body": f"txn {i} event {j}"}
        for j in range(i % 3 + 1)
    ]


@dataclass(frozen=True)
class Written:
    """A closed channel holding TXNS transactions in one segment, that segment's bytes,
    and its size after each commit."""

    root: Path
    segment: str
    data: bytes
    ends: list[int]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    root = tmp_path_factory.mktemp("channel")
    channel = FileChannel(root)
    ends = []
    for i in range(TXNS):
        with channel.transaction() as tx:
            tx.put(_txn(i))
            tx.commit()
        (segment,) = sorted(root.glob("wal-*.log"))
        ends.append(segment.stat().st_size)
    channel.close()
    return Written(root, segment.name, segment.read_bytes(), ends)


def _drain(channel: FileChannel) -> list[Event]:
    out: list[Event] = []
    while True:
        with channel.transaction() as tx:
            got = tx.take(1000)
            if not got:
                return out
            out += got
            tx.commit()


def _damage(draw: st.DataObject, data: bytes) -> tuple[bytes, int]:
    """Damaged segment bytes and the offset of the first damaged byte."""
    kind = draw.draw(st.sampled_from(["cut", "flip", "append"]))
    if kind == "cut":
        at = draw.draw(st.integers(0, len(data) - 1))
        return data[:at], at
    if kind == "append":
        return data + draw.draw(st.binary(min_size=1, max_size=200)), len(data)
    damaged = bytearray(data)
    spots = draw.draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=3, unique=True))
    for at in spots:
        damaged[at] ^= draw.draw(st.integers(1, 255))
    return bytes(damaged), min(spots)


@settings(max_examples=200, deadline=None, database=None)  # data made per run
@given(draw=st.data())
def test_recovery_keeps_every_transaction_before_the_damage(
    written: Written, draw: st.DataObject
) -> None:
    data, first_bad = _damage(draw, written.data)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ch"
        shutil.copytree(written.root, root)
        (root / written.segment).write_bytes(data)
        channel = FileChannel(root)  # never raises for damage in the last segment
        got = _drain(channel)
        intact = sum(1 for end in written.ends if end <= first_bad)
        want = [e for i in range(TXNS) for e in _txn(i)]
        # a prefix of the committed events, whole transactions only, at least the intact
        assert got == want[: len(got)]
        sizes = [len(_txn(i)) for i in range(TXNS)]
        assert len(got) in {sum(sizes[:n]) for n in range(TXNS + 1)}
        assert len(got) >= sum(sizes[:intact])
        with channel.transaction() as tx:  # and it takes new events afterwards
            tx.put([{"headers": {}, "body": "after"}])
            tx.commit()
        channel.close()
        assert [e["body"] for e in _drain(FileChannel(root))] == ["after"]
