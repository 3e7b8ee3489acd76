"""The file channel: transactions, durability across reopen, torn tails, capacity."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from squall.ingest.channels import FileChannel
from squall.ingest.event import Event
from squall.ingest.exceptions import ChannelCorrupted, ChannelFull


def events(prefix: str, n: int) -> list[Event]:
    return [{"headers": {"i": str(i)}, "body": f"{prefix}-{i}"} for i in range(n)]


def put(channel: FileChannel, evs: list[Event]) -> None:
    with channel.transaction() as tx:
        tx.put(evs)
        tx.commit()


def drain(channel: FileChannel) -> list[str]:
    bodies: list[str] = []
    while True:
        with channel.transaction() as tx:
            got = tx.take(1000)
            if not got:
                return bodies
            bodies += [e["body"] for e in got]
            tx.commit()


def segments(d: Path) -> list[Path]:
    return sorted(d.glob("wal-*.log"))


def test_put_take_commit_and_rollback(tmp_path: Path) -> None:
    ch = FileChannel(tmp_path)
    put(ch, events("a", 3))
    put(ch, events("b", 2))
    assert ch.stats().events == 5
    with ch.transaction() as tx:
        assert [e["body"] for e in tx.take(3)] == ["a-0", "a-1", "a-2"]
        tx.rollback()
    assert ch.stats().events == 5
    with ch.transaction() as tx:  # leaving without commit rolls back too
        tx.take(10)
    with ch.transaction() as tx:
        got = tx.take(10)
        assert [e["body"] for e in got] == ["a-0", "a-1", "a-2", "b-0", "b-1"]
        assert got[0]["headers"] == {"i": "0"}
        tx.commit()
    assert (ch.stats().events, ch.stats().bytes) == (0, 0)
    ch.close()


def test_take_returns_whole_records_within_the_batch(tmp_path: Path) -> None:
    ch = FileChannel(tmp_path)
    for i in range(3):
        put(ch, events(str(i), 4))
    with ch.transaction() as tx:
        assert len(tx.take(9)) == 8  # two records of 4; a third would exceed 9
        assert len(tx.take(1)) == 4  # at least one record even if bigger than asked
        tx.commit()
    ch.close()


def test_uncommitted_put_is_invisible_and_discarded(tmp_path: Path) -> None:
    ch = FileChannel(tmp_path)
    with ch.transaction() as tx:
        tx.put(events("x", 2))
        tx.rollback()
    assert ch.stats().events == 0
    assert drain(ch) == []
    ch.close()


def test_replay_after_reopen_keeps_untaken_events_only(tmp_path: Path) -> None:
    ch = FileChannel(tmp_path)
    put(ch, events("a", 2))
    put(ch, events("b", 2))
    with ch.transaction() as tx:
        tx.take(2)
        tx.commit()  # a-* delivered, checkpoint moves past them
    with ch.transaction() as tx:
        tx.take(2)  # b-* in flight when we "crash": must come back
    ch.close()
    again = FileChannel(tmp_path)
    assert again.stats().events == 2
    assert drain(again) == ["b-0", "b-1"]
    again.close()
    assert drain(FileChannel(tmp_path)) == []


def test_reopen_without_close_keeps_committed_puts(tmp_path: Path) -> None:
    ch = FileChannel(tmp_path)
    put(ch, events("a", 5))
    # no close(): a crash leaves the fds open; the data was fsynced at commit
    assert drain(FileChannel(tmp_path)) == [f"a-{i}" for i in range(5)]


@pytest.mark.parametrize(
    "damage",
    ["cut_in_payload", "cut_in_header", "garbage_appended", "flipped_byte", "zeros_appended"],
)
def test_torn_tail_is_truncated_and_the_rest_survives(tmp_path: Path, damage: str) -> None:
    ch = FileChannel(tmp_path)
    put(ch, events("good", 3))
    put(ch, events("last", 2))
    (seg,) = segments(tmp_path)
    size_before_last = seg.stat().st_size
    put(ch, events("torn", 2))
    full = seg.stat().st_size
    data = seg.read_bytes()
    if damage == "cut_in_payload":
        seg.write_bytes(data[: full - 5])
    elif damage == "cut_in_header":
        seg.write_bytes(data[: size_before_last + 10])
    elif damage == "garbage_appended":
        seg.write_bytes(data + b"\x01garbage that is not a record")
    elif damage == "flipped_byte":
        seg.write_bytes(data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:])
    else:
        seg.write_bytes(data + b"\0" * 100)
    truncated = {
        "cut_in_payload": size_before_last,
        "cut_in_header": size_before_last,
        "flipped_byte": size_before_last,
        "garbage_appended": full,
        "zeros_appended": full,
    }[damage]
    again = FileChannel(tmp_path)
    assert seg.stat().st_size == truncated  # the torn bytes are gone from disk
    expected = [f"good-{i}" for i in range(3)] + ["last-0", "last-1"]
    if damage in ("garbage_appended", "zeros_appended"):
        expected += ["torn-0", "torn-1"]
    assert drain(again) == expected
    put(again, events("after", 1))  # writing goes on normally after recovery
    again.close()
    assert drain(FileChannel(tmp_path)) == ["after-0"]


def test_damage_before_the_last_segment_is_reported(tmp_path: Path) -> None:
    ch = FileChannel(tmp_path, segment_bytes=200)
    put(ch, events("a", 3))
    put(ch, events("b", 3))  # rolls: a-* in segment 1, b-* in segment 2
    ch.close()
    first = segments(tmp_path)[0]
    data = bytearray(first.read_bytes())
    data[30] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(ChannelCorrupted, match=r"wal-00000001\.log is damaged at byte 0"):
        FileChannel(tmp_path)


def test_segments_roll_and_consumed_ones_are_deleted(tmp_path: Path) -> None:
    ch = FileChannel(tmp_path, segment_bytes=300)
    for i in range(6):
        put(ch, events(f"r{i}", 3))
    assert len(segments(tmp_path)) >= 3
    assert len(drain(ch)) == 18
    assert len(segments(tmp_path)) == 1  # only the segment being written remains
    ch.close()
    assert drain(FileChannel(tmp_path, segment_bytes=300)) == []


def test_capacity_in_events_and_bytes(tmp_path: Path) -> None:
    ch = FileChannel(tmp_path / "e", capacity_events=5, retry_after=2.5)
    put(ch, events("a", 4))
    with pytest.raises(ChannelFull, match="file channel is full") as info:
        put(ch, events("b", 2))
    assert info.value.retry_after == 2.5
    assert ch.stats().events == 4  # the refused put left nothing behind
    put(ch, events("c", 1))
    assert drain(ch) == ["a-0", "a-1", "a-2", "a-3", "c-0"]
    put(ch, events("d", 5))  # room again once the sink committed
    ch.close()

    small = FileChannel(tmp_path / "b", capacity_bytes=200)
    with pytest.raises(ChannelFull):
        put(small, [{"headers": {}, "body": "x" * 500}])
    assert small.stats().bytes == 0
    small.close()


def test_concurrent_commits_share_fsyncs_and_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = FileChannel(tmp_path)
    syncs = 0
    real = os.fdatasync

    def counting(fd: int) -> None:  # still a real fsync, just counted
        nonlocal syncs
        syncs += 1
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)

    def writer(w: int) -> None:
        for i in range(50):
            put(ch, events(f"w{w}.{i}", 2))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= syncs <= 400  # never more than one fsync per commit
    bodies = drain(ch)
    assert sorted(bodies) == sorted(
        f"w{w}.{i}-{j}" for w in range(8) for i in range(50) for j in range(2)
    )
    ch.close()
