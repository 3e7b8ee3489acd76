"""The user's side of a topology: ``Spout`` and ``Bolt``.

Threading contract: all calls on one task (``open``/``prepare``, ``next_tuple``,
``process``, ``process_tick``, ``ack``, ``fail``, ``close``/``cleanup``) happen on one
thread, one at a time, so a component needs no locks for its own state. Tasks of one
worker share that thread, so no call may block: ``next_tuple`` returns at once when
there is nothing to emit, and ``process`` should not wait on I/O longer than it must.

Each task gets its own instance, made from the class (or factory) given to the
topology; ``emit`` and friends work from ``open``/``prepare`` on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from compute.context import Checkpoint, TopologyContext
from compute.exceptions import ComputeError
from compute.tuple import Tuple

__all__ = ["Bolt", "Component", "Spout"]

Outputs = Sequence[str] | Mapping[str, Sequence[str]]


def _not_running(*_args: Any, **_kwargs: Any) -> None:
    raise ComputeError("emit/ack/fail work only while the topology runs (from open/prepare on)")


class Component:
    """What spouts and bolts share: declared outputs.

    ``outputs`` is a list of field names for the ``default`` stream, or a mapping
    ``{stream: [fields]}`` for named streams. Stream names starting with ``__`` are
    reserved for the system.
    """

    outputs: ClassVar[Outputs] = ()


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

    # Replaced per task by the runtime at open time (see compute.executor).
    def emit(self, values: Sequence[Any], msg_id: Any = None, stream: str = "default") -> None:
        """Emit ``values`` on ``stream``; with ``msg_id`` the tuple tree is tracked."""
        _not_running()

    def emit_direct(
        self, task: int, values: Sequence[Any], msg_id: Any = None, stream: str = "default"
    ) -> None:
        """Emit to one task, which must subscribe to ``stream`` with direct_grouping."""
        _not_running()


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

    # Replaced per task by the runtime at prepare time (see compute.executor).
    def emit(
        self,
        values: Sequence[Any],
        anchors: Tuple | Sequence[Tuple] | None = None,
        stream: str = "default",
    ) -> None:
        """Emit ``values`` on ``stream``, anchored to ``anchors`` (input tuples)."""
        _not_running()

    def emit_direct(
        self,
        task: int,
        values: Sequence[Any],
        anchors: Tuple | Sequence[Tuple] | None = None,
        stream: str = "default",
    ) -> None:
        """Emit to one task, which must subscribe to ``stream`` with direct_grouping."""
        _not_running()

    def ack(self, tup: Tuple) -> None:
        """Mark ``tup`` processed (only needed with ``auto_ack = False``)."""
        _not_running()

    def fail(self, tup: Tuple) -> None:
        """Fail ``tup``: its spout tuple's ``fail`` is called (replay)."""
        _not_running()
