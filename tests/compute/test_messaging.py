"""Frames between worker processes' sockets: in order, dropped while a peer is down,
delivered again once a replacement listens at the same address."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.compute.messaging import RECONNECT_EVERY, SocketTransport


@pytest.fixture
def addresses(tmp_path: Path) -> Iterator[list[str]]:
    short = Path("/tmp") / f"squall-test-{os.getpid()}-{tmp_path.name[-20:]}"
    short.mkdir()  # a Unix socket path must be short (108 bytes)
    yield [str(short / "w0"), str(short / "w1")]
    for name in ("w0", "w1"):
        (short / name).unlink(missing_ok=True)
    short.rmdir()


def received(transport: SocketTransport, count: int, timeout: float = 10.0) -> list[bytes]:
    """What ``transport`` received, polled until ``count`` frames or the deadline."""
    frames: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(frames) < count and time.monotonic() < deadline:
        frames += transport.receive()
        time.sleep(0.001)  # polling interval of the check, not synchronisation
    return frames


def test_frames_arrive_in_order(addresses: list[str]) -> None:
    a = SocketTransport(addresses, 0, b"key")
    b = SocketTransport(addresses, 1, b"key")
    try:
        for i in range(500):
            a.send(1, i.to_bytes(4, "big") * (i % 7 + 1))
        b.send(0, b"back")
        assert received(b, 500) == [i.to_bytes(4, "big") * (i % 7 + 1) for i in range(500)]
        assert received(a, 1) == [b"back"]
        assert (a.sent, b.received, a.dropped) == (500, 500, 0)
    finally:
        a.close()
        b.close()


def test_a_peer_that_is_down_loses_frames_until_its_replacement_listens(
    addresses: list[str],
) -> None:
    a = SocketTransport(addresses, 0, b"key")
    b = SocketTransport(addresses, 1, b"key")
    try:
        a.send(1, b"first")
        assert received(b, 1) == [b"first"]
        b.close()  # as if its process died
        deadline = time.monotonic() + 10
        while not a.dropped:  # the broken connection is noticed on a later send
            a.send(1, b"lost")
            assert time.monotonic() < deadline
        b = SocketTransport(addresses, 1, b"key")  # the replacement, same address
        time.sleep(RECONNECT_EVERY)  # let the reconnect back-off pass
        a.send(1, b"again")
        assert received(b, 1)[-1:] == [b"again"]
    finally:
        a.close()
        b.close()


def test_a_peer_with_another_key_is_refused(addresses: list[str]) -> None:
    a = SocketTransport(addresses, 0, b"key")
    b = SocketTransport(addresses, 1, b"other")
    try:
        a.send(1, b"secret")
        assert a.dropped == 1 and received(b, 1, timeout=0.2) == []
    finally:
        a.close()
        b.close()
