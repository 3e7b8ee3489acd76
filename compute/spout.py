"""``Spout``: where a topology's tuples come from.

The threading contract all components share is in ``squall.compute.component``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from squall.compute.collector import NOT_RUNNING, SpoutOutputCollector
from squall.compute.component import Component
from squall.compute.context import TopologyContext

__all__ = ["Spout"]


class Spout(Component):
    """A source of tuples.

    Guaranteed processing: emit with a ``msg_id`` to root a tuple tree. When every
    tuple of the tree has been acked, ``ack(msg_id)`` is called; if any tuple fails or
    the tree is not complete within ``Config.message_timeout``, ``fail(msg_id)`` is
    called instead, exactly once, and never followed by ``ack``. Replay is the spout's
    job: ``fail`` should arrange for the message to be emitted again. Tuples emitted
    without a ``msg_id`` are not tracked.
    """

    def open(self, context: TopologyContext) -> None:
        """Called once on the task's thread before the first ``next_tuple``."""

    def next_tuple(self) -> None:
        """Emit zero or more tuples and return at once; never block."""
        raise NotImplementedError

    def ack(self, msg_id: Any) -> None:
        """The tree rooted at ``msg_id`` was fully processed."""

    def fail(self, msg_id: Any) -> None:
        """The tree rooted at ``msg_id`` failed or timed out; replay it if it matters."""

    def snapshot(self) -> Any:
        """Where to resume after a crash, at a checkpoint (see Config.checkpoint_interval):
        every tuple emitted so far has been processed. A broker spout returns the next
        offset to read per partition. None (the default) means nothing to record."""
        return None

    def activate(self) -> None:
        """The topology (re)started calling ``next_tuple``."""

    def deactivate(self) -> None:
        """``next_tuple`` will not be called until ``activate`` (e.g. while killing)."""

    def close(self) -> None:
        """Called once when the topology stops (not guaranteed after a crash)."""

    # -- what the runtime gives the task (squall.compute.collector) ----------------------

    _collector: SpoutOutputCollector = NOT_RUNNING

    def attach(self, collector: SpoutOutputCollector) -> None:
        """The runtime calls this before ``open``; a test may attach a recorder."""
        self._collector = collector

    def emit(self, values: Sequence[Any], msg_id: Any = None, stream: str = "default") -> None:
        """Emit ``values`` on ``stream``; with ``msg_id`` the tuple tree is tracked."""
        self._collector.emit(values, msg_id, stream)

    def emit_direct(
        self, task: int, values: Sequence[Any], msg_id: Any = None, stream: str = "default"
    ) -> None:
        """Emit to one task, which must subscribe to ``stream`` with direct_grouping."""
        self._collector.emit_direct(task, values, msg_id, stream)
