"""Workarounds for kafka-python 3.0.12, applied once when squall.broker.kafka loads.

* A connection attempt that fails (broker down: ECONNREFUSED, or a timeout) leaves its
  socket open for the garbage collector, which then warns (ResourceWarning) at some
  random later moment. While Kafka is down a client retries every second or so, so an
  outage scatters such warnings over whatever runs next (and fails test runs that treat
  warnings as errors). Here the socket is closed when its connect fails.
"""

from __future__ import annotations

import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.net.inet import KafkaNetSocket

__all__ = ["apply"]


def _closing_sock_connect(original: Any) -> Any:
    async def sock_connect(
        self: Any, net: Any, sock: Any, sockaddr: Any, timeout_at: Any = None
    ) -> Any:
        try:
            return await original(self, net, sock, sockaddr, timeout_at=timeout_at)
        except BaseException:
            sock.close()
            raise

    sock_connect.squall_patched = True  # type: ignore[attr-defined]
    return sock_connect


def apply() -> None:
    """Install the workarounds (idempotent)."""
    current = KafkaNetSocket.sock_connect
    if not getattr(current, "squall_patched", False):
        KafkaNetSocket.sock_connect = _closing_sock_connect(current)


apply()
