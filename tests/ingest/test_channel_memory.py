"""The memory channel: bounded by events and by body bytes; rollback returns to the head."""

from __future__ import annotations

import pytest

from squall.ingest.channels import MemoryChannel
from squall.ingest.exceptions import ChannelFull


def put(ch: MemoryChannel, *bodies: str) -> None:
    with ch.transaction() as tx:
        tx.put([{"headers": {}, "body": b} for b in bodies])
        tx.commit()


def test_bounded_by_events_then_room_after_take_commit() -> None:
    ch = MemoryChannel(capacity_events=3)
    put(ch, "a", "b")
    with pytest.raises(ChannelFull, match="memory channel is full"):
        put(ch, "c", "d")
    assert ch.stats().events == 2
    with ch.transaction() as tx:
        assert [e["body"] for e in tx.take(10)] == ["a", "b"]
        tx.commit()
    put(ch, "c", "d", "e")
    assert ch.stats().events == 3


def test_bounded_by_body_bytes() -> None:
    ch = MemoryChannel(capacity_bytes=10)
    put(ch, "12345")
    with pytest.raises(ChannelFull):
        put(ch, "123456")
    put(ch, "12345")
    assert ch.stats().bytes == 10


def test_rollback_returns_events_to_the_head_in_order() -> None:
    ch = MemoryChannel()
    put(ch, "a")
    put(ch, "b")
    put(ch, "c")
    with ch.transaction() as tx:
        assert [e["body"] for e in tx.take(2)] == ["a", "b"]
        tx.rollback()
    with ch.transaction() as tx:
        assert [e["body"] for e in tx.take(10)] == ["a", "b", "c"]
        tx.commit()
    assert ch.stats().events == 0
    assert not ch.wait(0.01)
