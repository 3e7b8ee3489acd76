"""The XOR acker: tracks every spout tuple's tree in constant memory.

Protocol (Storm's): each tuple sent to a task carries, per root (spout tuple), a random
64-bit edge id. The acker keeps, per root, the XOR of every edge id it has heard of:

1. the spout's emit reports the XOR of the edges it created (``init``);
2. a bolt acking a tuple reports ``edge ^ (XOR of the edges of tuples anchored to it)``;
3. every edge is thus XORed in exactly twice (once created, once acked), so the value
   returns to 0 exactly when the whole tree is processed -> the spout's ``ack``.

A ``fail`` on any tuple, or no completion within the message timeout, removes the
root and calls the spout's ``fail`` once; later acks for it are ignored, so ``ack``
never follows ``fail``.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any, Protocol

__all__ = ["Acker"]


class TreeOwner(Protocol):
    """The spout task a tree belongs to (a SpoutExecutor)."""

    def tree_done(self, msg_id: Any, started: float, ok: bool) -> None: ...


class Acker:
    """One per worker; called directly on the worker's thread (no locks)."""

    __slots__ = ("_pending", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        # root -> [xor, owner, msg_id, started]; insertion order == start order
        self._pending: dict[int, list[Any]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def init(self, root: int, xor: int, owner: TreeOwner, msg_id: Any) -> None:
        started = perf_counter()
        if xor == 0:  # no task received the tuple: the tree is already complete
            owner.tree_done(msg_id, started, True)
            return
        self._pending[root] = [xor, owner, msg_id, started]

    def ack(self, root: int, value: int) -> None:
        entry = self._pending.get(root)
        if entry is None:  # already failed or timed out
            return
        xor = entry[0] ^ value
        if xor:
            entry[0] = xor
            return
        del self._pending[root]
        entry[1].tree_done(entry[2], entry[3], True)

    def fail(self, root: int) -> None:
        entry = self._pending.pop(root, None)
        if entry is not None:
            entry[1].tree_done(entry[2], entry[3], False)

    def expire(self) -> int:
        """Fail every tree older than the timeout; returns how many."""
        cutoff = perf_counter() - self.timeout
        expired = []
        for root, entry in self._pending.items():
            if entry[3] > cutoff:
                break
            expired.append(root)
        for root in expired:
            self.fail(root)
        return len(expired)
