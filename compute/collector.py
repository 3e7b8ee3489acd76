"""The runtime's side of ``emit``, ``ack`` and ``fail``: what a task's executor hands its
component before ``open``/``prepare`` (Storm's SpoutOutputCollector and
OutputCollector). ``Spout.emit`` and ``Bolt.emit`` go through it, so the runtime never
rewrites a user's component, and a test can attach a recorder instead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from squall.compute.exceptions import ComputeError
from squall.compute.tuple import Tuple

__all__ = ["NOT_RUNNING", "OutputCollector", "SpoutOutputCollector"]

Anchors = Tuple | Sequence[Tuple] | None


class SpoutOutputCollector(Protocol):
    def emit(self, values: Sequence[Any], msg_id: Any = None, stream: str = "default") -> None:
        """Emit on ``stream``; with ``msg_id`` the tuple roots a tracked tree."""

    def emit_direct(
        self, task: int, values: Sequence[Any], msg_id: Any = None, stream: str = "default"
    ) -> None:
        """Emit to one task of a direct-grouped subscriber."""


class OutputCollector(Protocol):
    def emit(self, values: Sequence[Any], anchors: Anchors = None, stream: str = "default") -> None:
        """Emit on ``stream``, joining the trees of ``anchors``."""

    def emit_direct(
        self, task: int, values: Sequence[Any], anchors: Anchors = None, stream: str = "default"
    ) -> None:
        """Emit to one task of a direct-grouped subscriber."""

    def ack(self, tup: Tuple) -> None:
        """``tup`` is processed."""

    def fail(self, tup: Tuple) -> None:
        """``tup`` failed: its spout replays the tree."""


class _NotRunning:
    """The collector of a component that no topology runs (yet)."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise ComputeError("emit/ack/fail work only while the topology runs (from open/prepare on)")

    emit = emit_direct = ack = fail = _refuse


NOT_RUNNING: Any = _NotRunning()
"""Stands in for both collectors until the runtime attaches the real one."""
