"""``Bolt``: where a topology's tuples are processed.

The threading contract all components share is in ``squall.compute.component``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from squall.compute.collector import NOT_RUNNING, OutputCollector
from squall.compute.component import Component
from squall.compute.context import Checkpoint, TopologyContext
from squall.compute.tuple import Tuple

__all__ = ["Bolt"]


class Bolt(Component):
    """Processes tuples and may emit more.

    What a bolt owes the acker: every input tuple is acked or failed exactly once. By
    default (``auto_ack = True``) the runtime acks the tuple when ``process`` returns
    and fails it when ``process`` raises (the error is logged with component and task;
    the topology keeps running). Set ``auto_ack = False`` to call ``self.ack(tup)`` /
    ``self.fail(tup)`` yourself, e.g. when holding tuples for a batch. Emits anchored to
    input tuples (``anchors=[tup]``) join their trees; unanchored emits are untracked.

    ``tick_seconds = N`` makes the runtime call ``process_tick()`` every N seconds.
    """

    auto_ack: ClassVar[bool] = True
    tick_seconds: ClassVar[float | None] = None

    def prepare(self, context: TopologyContext) -> None:
        """Called once on the task's thread before the first ``process``."""

    def process(self, tup: Tuple) -> None:
        """Handle one input tuple."""
        raise NotImplementedError

    def process_tick(self) -> None:
        """Called every ``tick_seconds`` seconds, between tuples."""

    def pre_commit(self, checkpoint: Checkpoint) -> None:
        """At a checkpoint (see Config.checkpoint_interval), after every upstream bolt's
        ``pre_commit`` and after the tuples those emitted have been processed here.
        Flush state downstream, or commit output together with
        ``checkpoint.positions``. Raising stops the worker: it restarts from the last
        committed positions (fail-fast, as a Storm worker does)."""

    def cleanup(self) -> None:
        """Called once when the topology stops (not guaranteed after a crash)."""

    # -- what the runtime gives the task (squall.compute.collector) ----------------------

    _collector: OutputCollector = NOT_RUNNING

    def attach(self, collector: OutputCollector) -> None:
        """The runtime calls this before ``prepare``; a test may attach a recorder."""
        self._collector = collector

    def emit(
        self,
        values: Sequence[Any],
        anchors: Tuple | Sequence[Tuple] | None = None,
        stream: str = "default",
    ) -> None:
        """Emit ``values`` on ``stream``, anchored to ``anchors`` (input tuples)."""
        self._collector.emit(values, anchors, stream)

    def emit_direct(
        self,
        task: int,
        values: Sequence[Any],
        anchors: Tuple | Sequence[Tuple] | None = None,
        stream: str = "default",
    ) -> None:
        """Emit to one task, which must subscribe to ``stream`` with direct_grouping."""
        self._collector.emit_direct(task, values, anchors, stream)

    def ack(self, tup: Tuple) -> None:
        """Mark ``tup`` processed (only needed with ``auto_ack = False``)."""
        self._collector.ack(tup)

    def fail(self, tup: Tuple) -> None:
        """Fail ``tup``: its spout tuple's ``fail`` is called (replay)."""
        self._collector.fail(tup)
