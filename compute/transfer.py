"""Moving tuples and acks between workers: the executor/transport boundary.

Inside a worker, a task's inbox is a plain list. For a task placed in another worker,
the routing tables hold an ``Outbox`` instead: it has the same ``append``, so executors
and user code never know where a task runs. At the end of each scheduling round the
worker sends each other worker one batch: the tuples for its tasks plus the acks and
fails for tuple trees rooted there (a root id carries its worker's index in its low
byte), pickled into bytes. A ``Transport`` carries the bytes; the receiving worker
decodes the batch into its inboxes and its acker. ``ProcessCluster`` carries them over
Unix sockets (compute.messaging).
"""

from __future__ import annotations

import pickle
import queue
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from squall.compute.acker import Acker, TreeOwner
from squall.compute.tuple import Tuple

__all__ = [
    "MemoryHub",
    "Outbox",
    "QueueTransport",
    "RoutingAcker",
    "Transport",
    "decode_batch",
    "encode_batch",
]

WORKER_BITS = 8
WORKER_MASK = (1 << WORKER_BITS) - 1


class Transport(Protocol):
    """Bytes between workers, in order per pair, never blocking the worker loop."""

    def send(self, worker: int, payload: bytes) -> None: ...

    def receive(self) -> list[bytes]: ...


class Outbox:
    """Stands in for a remote task's inbox in the routing tables."""

    __slots__ = ("buffer", "task")

    def __init__(self, task: int, buffer: list[tuple[int, Tuple]]) -> None:
        self.task = task
        self.buffer = buffer  # shared by every task of the same remote worker

    def append(self, tup: Tuple) -> None:
        self.buffer.append((self.task, tup))


class RoutingAcker:
    """The acker as seen by a worker's executors when tuples cross workers: acks and
    fails of trees rooted elsewhere are batched for the owning worker."""

    __slots__ = ("acks", "fails", "index", "local")

    def __init__(self, local: Acker, index: int) -> None:
        self.local = local
        self.index = index
        self.acks: dict[int, list[tuple[int, int]]] = {}
        self.fails: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.local)

    @property
    def timeout(self) -> float:
        return self.local.timeout

    def init(self, root: int, xor: int, owner: TreeOwner, msg_id: Any) -> None:
        self.local.init(root, xor, owner, msg_id)

    def ack(self, root: int, value: int) -> None:
        owner = root & WORKER_MASK
        if owner == self.index:
            self.local.ack(root, value)
        else:
            self.acks.setdefault(owner, []).append((root, value))

    def fail(self, root: int) -> None:
        owner = root & WORKER_MASK
        if owner == self.index:
            self.local.fail(root)
        else:
            self.fails.setdefault(owner, []).append(root)

    def expire(self) -> int:
        return self.local.expire()


def encode_batch(
    tuples: list[tuple[int, Tuple]], acks: list[tuple[int, int]], fails: list[int]
) -> bytes:
    wire = [(task, t.values, t.stream, t.source, t.source_task, t._roots) for task, t in tuples]
    return pickle.dumps((wire, acks, fails), protocol=pickle.HIGHEST_PROTOCOL)


def decode_batch(
    payload: bytes, fields: Mapping[tuple[str, str], Mapping[str, int]]
) -> tuple[list[tuple[int, Tuple]], list[tuple[int, int]], list[int]]:
    """``fields`` maps (source component, stream) to its field index."""
    wire, acks, fails = pickle.loads(payload)
    tuples = [
        (task, Tuple(values, stream, source, source_task, fields[(source, stream)], roots))
        for task, values, stream, source, source_task, roots in wire
    ]
    return tuples, acks, fails


class MemoryHub:
    """Workers in one process connected only through bytes (for tests and tools)."""

    def __init__(self) -> None:
        self._queues: dict[int, deque[bytes]] = {}

    def endpoint(self, index: int) -> _MemoryEndpoint:
        self._queues.setdefault(index, deque())
        return _MemoryEndpoint(self._queues, index)


class _MemoryEndpoint:
    def __init__(self, queues: dict[int, deque[bytes]], index: int) -> None:
        self._queues = queues
        self._index = index

    def send(self, worker: int, payload: bytes) -> None:
        self._queues[worker].append(payload)  # deque appends are thread-safe

    def receive(self) -> list[bytes]:
        q = self._queues[self._index]
        out = []
        while q:
            out.append(q.popleft())
        return out


class QueueTransport:
    """Workers in separate processes: one ``multiprocessing`` queue per worker.

    For processes that all live as long as the topology: a process killed while writing
    to a queue can leave the queue's lock held, which is why ``ProcessCluster``, which
    replaces dead workers, uses ``compute.messaging.SocketTransport`` instead."""

    def __init__(self, queues: Mapping[int, Any], index: int) -> None:
        self._queues = queues
        self._inbound = queues[index]

    def send(self, worker: int, payload: bytes) -> None:
        self._queues[worker].put(payload)

    def receive(self) -> list[bytes]:
        out = []
        while True:
            try:
                out.append(self._inbound.get_nowait())
            except queue.Empty:
                return out
