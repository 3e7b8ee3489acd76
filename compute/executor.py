"""Executors: the runtime side of one task (one spout or bolt instance).

An executor owns its component instance, its inbox (bolts), and its routing tables,
compiled once in ``compile_routes``: per output stream, a list of ``(choose, multi)``
pairs from ``Grouping.chooser``. ``choose`` hands back the target task's inbox, and an
inbox is anything with ``append`` — a list for a task in this worker, a batching
outbox for a task in another process — so executor code never changes with placement.

The per-tuple paths (``_route``, ``BoltExecutor.run_batch``, ``ack_tuple``) are the
hot path: no logging, no decisions that were not made at compile time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from random import getrandbits
from time import perf_counter
from typing import Any

from squall.compute.acker import Acker
from squall.compute.bolt import Bolt
from squall.compute.context import TopologyContext
from squall.compute.exceptions import EmitError, FailedException
from squall.compute.metrics import LatencyHistogram
from squall.compute.spout import Spout
from squall.compute.tuple import Tuple

__all__ = ["BoltExecutor", "Executor", "SpoutExecutor"]

log = logging.getLogger(__name__)

Route = tuple[Callable[[Sequence[Any]], Any], bool]


class Executor:
    """What spout and bolt executors share: identity, routing, counters."""

    def __init__(self, context: TopologyContext, acker: Acker | None) -> None:
        self.context = context
        self.component = context.component
        self.task_id = context.task_id
        self.acker = acker  # None when acking is off
        self.routes: dict[str, list[Route]] = {}
        self.direct: dict[str, dict[int, Any]] = {}
        self.fields: dict[str, Mapping[str, int]] = {}
        self.emitted = 0
        self.acked = 0
        self.failed = 0
        self._errors_logged = 0

    def compile_routes(
        self,
        routes: dict[str, list[Route]],
        direct: dict[str, dict[int, Any]],
        fields: dict[str, Mapping[str, int]],
    ) -> None:
        self.routes, self.direct, self.fields = routes, direct, fields

    def _target(self, stream: str) -> tuple[list[Route], Mapping[str, int]]:
        try:
            return self.routes[stream], self.fields[stream]
        except KeyError:
            raise EmitError(
                f"{self.component!r} emitted on undeclared stream {stream!r}; "
                f"declared: {sorted(self.fields)} (add it to outputs)"
            ) from None

    def _direct_route(self, task: int, stream: str) -> list[Route]:
        inbox = self.direct.get(stream, {}).get(task)
        if inbox is None:
            raise EmitError(
                f"{self.component!r} emit_direct to task {task} on stream {stream!r}: "
                f"that task does not subscribe to it with direct_grouping"
            )
        return [((lambda _values: inbox), False)]

    def _route(
        self,
        values: Sequence[Any],
        stream: str,
        routes: list[Route],
        fields: Mapping[str, int],
        anchors: Sequence[Tuple] | None,
        root: int,
    ) -> int:
        """Send ``values`` to every chosen task; returns the XOR of new edge ids.

        ``root`` != 0: a spout tuple; each copy gets its own edge under ``root``.
        ``anchors``: a bolt tuple; each copy gets an edge per anchored root, and each
        anchor's ack value absorbs that edge. Otherwise one untracked tuple is shared.
        """
        if len(values) != len(fields):
            raise EmitError(
                f"{self.component!r} emitted {len(values)} values on stream {stream!r}, "
                f"which declares {len(fields)} fields {list(fields)}"
            )
        self.emitted += 1
        source, task = self.component, self.task_id
        if not root and not anchors:
            tup = Tuple(values, stream, source, task, fields, None)
            for choose, multi in routes:
                if multi:
                    for inbox in choose(values):
                        inbox.append(tup)
                else:
                    choose(values).append(tup)
            return 0
        xor = 0
        for choose, multi in routes:
            for inbox in choose(values) if multi else (choose(values),):
                if root:
                    edge = getrandbits(64)
                    xor ^= edge
                    roots: dict[int, int] | None = {root: edge}
                else:
                    roots = _anchor(anchors)  # type: ignore[arg-type]
                inbox.append(Tuple(values, stream, source, task, fields, roots))
        return xor

    def _log_error(self, what: str) -> None:
        """Log with traceback, but not unboundedly: the first 10, then every 1000th."""
        self._errors_logged += 1
        n = self._errors_logged
        if n <= 10 or n % 1000 == 0:
            log.exception(
                "%s in component %r task %d (error #%d; later ones are sampled)",
                what,
                self.component,
                self.task_id,
                n,
            )


def _anchor(anchors: Sequence[Tuple]) -> dict[int, int] | None:
    """Edge ids for one outgoing copy anchored to ``anchors`` (Storm's anchorsToIds)."""
    roots: dict[int, int] | None = None
    for a in anchors:
        ar = a._roots
        if ar:
            edge = getrandbits(64)
            a._ack_val ^= edge
            if roots is None:
                roots = dict.fromkeys(ar, edge)
            else:
                for r in ar:
                    roots[r] = roots.get(r, 0) ^ edge
    return roots


class SpoutExecutor(Executor):
    """Runs one spout task: calls ``next_tuple``, roots tuple trees, delivers acks."""

    def __init__(self, spout: Spout, context: TopologyContext, acker: Acker | None) -> None:
        super().__init__(context, acker)
        self.spout = spout
        self.pending = 0  # trees in flight
        self.worker_index = 0
        self.done: list[tuple[Any, bool]] = []  # (msg_id, ok) to hand to the spout
        self.complete_latency = LatencyHistogram()
        spout.attach(self)

    def emit(self, values: Sequence[Any], msg_id: Any = None, stream: str = "default") -> None:
        routes, fields = self._target(stream)
        self._emit(values, msg_id, stream, routes, fields)

    def emit_direct(
        self, task: int, values: Sequence[Any], msg_id: Any = None, stream: str = "default"
    ) -> None:
        _routes, fields = self._target(stream)
        self._emit(values, msg_id, stream, self._direct_route(task, stream), fields)

    def _emit(
        self,
        values: Sequence[Any],
        msg_id: Any,
        stream: str,
        routes: list[Route],
        fields: Mapping[str, int],
    ) -> None:
        acker = self.acker
        if msg_id is None or acker is None:
            self._route(values, stream, routes, fields, None, 0)
            if msg_id is not None:  # acking off: acked as soon as emitted (Storm's rule)
                self.done.append((msg_id, True))
            return
        # the low byte names the worker whose acker owns the tree (compute.transfer)
        root = ((getrandbits(55) + 1) << 8) | self.worker_index
        xor = self._route(values, stream, routes, fields, None, root)
        self.pending += 1
        acker.init(root, xor, self, msg_id)

    def tree_done(self, msg_id: Any, started: float, ok: bool) -> None:
        """Called by the acker; the spout hears of it on its next turn."""
        if ok:
            self.complete_latency.record(perf_counter() - started)
        self.done.append((msg_id, ok))

    def deliver_done(self) -> None:
        """Hand completed and failed trees to the spout (on the spout's thread)."""
        done = self.done
        if not done:
            return
        self.done = []
        spout = self.spout
        tracked = self.acker is not None
        for msg_id, ok in done:
            if tracked:
                self.pending -= 1
            try:
                if ok:
                    self.acked += 1
                    spout.ack(msg_id)
                else:
                    self.failed += 1
                    spout.fail(msg_id)
            except Exception:
                self._log_error("error in ack/fail")

    def next_tuples(self, calls: int, max_pending: int | None) -> bool:
        """Up to ``calls`` calls of ``next_tuple``; True if anything was emitted."""
        before = self.emitted
        next_tuple = self.spout.next_tuple
        for _ in range(calls):
            if max_pending is not None and self.pending >= max_pending:
                break
            emitted = self.emitted
            try:
                next_tuple()
            except Exception:
                self._log_error("error in next_tuple")
                break
            if self.emitted == emitted:
                break
        return self.emitted != before


class BoltExecutor(Executor):
    """Runs one bolt task: drains its inbox in batches, acks or fails each tuple."""

    def __init__(self, bolt: Bolt, context: TopologyContext, acker: Acker | None) -> None:
        super().__init__(context, acker)
        self.bolt = bolt
        self.inbox: list[Tuple] = []
        self.executed = 0
        self.execute_seconds = 0.0
        self.tick_seconds = bolt.tick_seconds
        self.next_tick = 0.0
        self._auto_ack = bolt.auto_ack
        self._settled: Tuple | None = None
        bolt.attach(self)

    def emit(
        self,
        values: Sequence[Any],
        anchors: Tuple | Sequence[Tuple] | None = None,
        stream: str = "default",
    ) -> None:
        routes, fields = self._target(stream)
        if anchors is not None and self.acker is not None:
            self._route(values, stream, routes, fields, _anchor_list(anchors), 0)
        else:
            self._route(values, stream, routes, fields, None, 0)

    def emit_direct(
        self,
        task: int,
        values: Sequence[Any],
        anchors: Tuple | Sequence[Tuple] | None = None,
        stream: str = "default",
    ) -> None:
        _routes, fields = self._target(stream)
        routes = self._direct_route(task, stream)
        tracked = None if anchors is None or self.acker is None else _anchor_list(anchors)
        self._route(values, stream, routes, fields, tracked, 0)

    def ack(self, tup: Tuple) -> None:
        self._settled = tup
        self.acked += 1
        roots = tup._roots
        if roots and self.acker is not None:
            ack = self.acker.ack
            v = tup._ack_val
            for root, edge in roots.items():
                ack(root, edge ^ v)

    def fail(self, tup: Tuple) -> None:
        self._settled = tup
        self.failed += 1
        roots = tup._roots
        if roots and self.acker is not None:
            for root in roots:
                self.acker.fail(root)

    def run_batch(self) -> int:
        """Process everything in the inbox now; returns how many tuples."""
        inbox = self.inbox
        batch = inbox[:]
        inbox.clear()
        process = self.bolt.process
        auto = self._auto_ack
        ack = self.ack
        started = perf_counter()
        for tup in batch:  # hot
            try:
                process(tup)
            except FailedException:
                self.fail(tup)
                continue
            except Exception:
                self._log_error("error in process")
                self.fail(tup)
                continue
            if auto and self._settled is not tup:
                ack(tup)
        self.execute_seconds += perf_counter() - started
        self.executed += len(batch)
        return len(batch)

    def tick(self) -> None:
        try:
            self.bolt.process_tick()
        except Exception:
            self._log_error("error in process_tick")


def _anchor_list(anchors: Tuple | Sequence[Tuple]) -> Sequence[Tuple]:
    return (anchors,) if type(anchors) is Tuple else anchors  # type: ignore[return-value]
