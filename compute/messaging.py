"""Sockets between the worker processes of one topology (Storm's messaging layer).

Each worker listens on a Unix socket; the cluster gives every worker the list of
addresses, indexed by worker. A worker connects to a peer the first time it sends to
it, and connects again after a failure, so a replaced worker is reached at the same
address. One connection per ordered pair keeps batches in order, as ``Transport``
requires. Every frame is one ``encode_batch`` payload; a thread per inbound connection
puts frames on a queue that the worker loop drains with ``receive``.

A batch for a peer that is down (killed, or not yet replaced) is dropped, not queued:
the trees it carried time out at their owners and their spouts replay them, which is
Storm's at-least-once guarantee. ``dropped`` counts such batches.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener

__all__ = ["SocketTransport"]

log = logging.getLogger(__name__)

RECONNECT_EVERY = 0.05
"""Seconds between attempts to reach a peer that is down (batches are dropped meanwhile)."""


class SocketTransport:
    """One worker's end: listens on ``addresses[index]``, sends to the others'."""

    def __init__(self, addresses: Sequence[str], index: int, authkey: bytes) -> None:
        self._addresses = list(addresses)
        self._index = index
        self._authkey = authkey
        self._inbound: deque[bytes] = deque()
        self._out: dict[int, Connection] = {}
        self._readers: set[Connection] = set()  # inbound, each read by its own thread
        self._retry_at: dict[int, float] = {}
        self._closed = False
        self.sent = 0  # frames written to a peer
        self.received = 0  # frames handed to the worker
        self.dropped = 0  # frames for a peer that could not be reached
        with contextlib.suppress(FileNotFoundError):
            os.unlink(addresses[index])  # left by the worker this one replaces
        self._listener = Listener(addresses[index], "AF_UNIX", authkey=authkey)
        self._acceptor = threading.Thread(
            target=self._accept, name=f"worker-{index}-accept", daemon=True
        )
        self._acceptor.start()

    # -- the worker loop's side (one thread) --------------------------------------------
    def send(self, worker: int, payload: bytes) -> None:
        conn = self._out.get(worker) or self._connect(worker)
        if conn is None:
            self.dropped += 1
            return
        try:
            conn.send_bytes(payload)
        except OSError:  # the peer died: drop the batch, reconnect on a later send
            del self._out[worker]
            conn.close()
            self.dropped += 1
            self._retry_at[worker] = time.monotonic() + RECONNECT_EVERY
            return
        self.sent += 1

    def receive(self) -> list[bytes]:
        inbound = self._inbound
        out = []
        while inbound:
            out.append(inbound.popleft())
        self.received += len(out)
        return out

    def _connect(self, worker: int) -> Connection | None:
        now = time.monotonic()
        if now < self._retry_at.get(worker, 0.0):
            return None
        try:
            conn = Client(self._addresses[worker], "AF_UNIX", authkey=self._authkey)
        except (OSError, EOFError, AuthenticationError):  # down, starting, or not ours
            self._retry_at[worker] = now + RECONNECT_EVERY
            return None
        self._out[worker] = conn
        return conn

    # -- inbound, on background threads ---------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
            except (OSError, EOFError, AuthenticationError) as exc:
                if self._closed:
                    return
                log.warning("worker %d refused a connection: %r", self._index, exc)
                continue
            if self._closed:
                conn.close()
                return
            self._readers.add(conn)
            threading.Thread(
                target=self._read, args=(conn,), name=f"worker-{self._index}-read", daemon=True
            ).start()

    def _read(self, conn: Connection) -> None:
        inbound = self._inbound
        try:
            while True:
                inbound.append(conn.recv_bytes())  # deque appends are thread-safe
        except (OSError, EOFError):  # the peer went away (perhaps mid-frame), or close()
            pass
        finally:
            self._readers.discard(conn)
            conn.close()

    def close(self) -> None:
        """Stop listening and close every connection, as the process's exit would."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError, EOFError, AuthenticationError):  # wake the acceptor
            Client(self._addresses[self._index], "AF_UNIX", authkey=self._authkey).close()
        self._acceptor.join(5)
        self._listener.close()
        for conn in list(self._readers):  # shutdown wakes a thread blocked reading it
            with contextlib.suppress(OSError), socket.socket(fileno=os.dup(conn.fileno())) as s:
                s.shutdown(socket.SHUT_RDWR)
        for conn in self._out.values():
            conn.close()
        self._out.clear()
