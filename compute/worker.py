"""A worker: one thread that runs a set of tasks of one topology.

Storm runs one thread per executor; in Python the GIL makes that slower, not faster,
so a worker runs all its tasks on one thread in scheduling rounds:

1. each spout task gets its completed/failed trees (``ack``/``fail``), then up to
   ``Config.spout_batch`` ``next_tuple`` calls (fewer if ``max_spout_pending`` is hit);
2. each bolt task, in topological order, processes its whole inbox as one batch;
3. timers: tick tuples, checkpoints (``Config.checkpoint_interval``), message
   timeouts (every ~100 ms);
4. an idle round (nothing emitted, nothing processed) sleeps 1 ms, as Storm's spout
   wait strategy does.

Parallelism across cores comes from several worker processes. Each can run the whole
topology as a consumer-group member of the broker (compute.runner: stateless workers,
partitions spread by the broker), or a share of the tasks, exchanging tuple batches and
acks with the other workers as bytes over a ``Transport`` (compute.transfer): the
workers that compute.process_cluster starts, one per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from squall.compute.acker import Acker
from squall.compute.bolt import Bolt
from squall.compute.config import Config
from squall.compute.context import Checkpoint, TopologyContext
from squall.compute.exceptions import ComputeError, IdleTimeout, TopologyError
from squall.compute.executor import BoltExecutor, Route, SpoutExecutor
from squall.compute.metrics import ComponentMetrics, LatencyHistogram
from squall.compute.spout import Spout
from squall.compute.topology import TopologySpec
from squall.compute.transfer import Outbox, RoutingAcker, Transport, decode_batch, encode_batch

__all__ = ["Worker"]

log = logging.getLogger(__name__)

_EXPIRE_EVERY = 0.1  # seconds between message-timeout sweeps
_IDLE_SLEEP = 0.001


class Worker:
    """Runs every task of ``spec`` on one thread (``start``/``stop``/``wait_idle``)."""

    def __init__(
        self,
        spec: TopologySpec,
        config: Config,
        assignment: Mapping[int, int] | None = None,
        index: int = 0,
        transport: Transport | None = None,
    ) -> None:
        """Run the tasks that ``assignment`` (task id -> worker index) gives worker
        ``index``, exchanging tuples and acks with the other workers over
        ``transport``; without an assignment, every task runs here."""
        self.spec = spec
        self.config = config
        self.index = index
        self.assignment = assignment
        self.transport = transport
        acker = Acker(config.message_timeout) if config.acking else None
        self.acker: Acker | RoutingAcker | None = acker
        if acker is not None and transport is not None:
            self.acker = RoutingAcker(acker, index)
        self._out: dict[int, list[tuple[int, Any]]] = {}
        self._fields_of: dict[tuple[str, str], dict[str, int]] = {}
        self.spouts: list[SpoutExecutor] = []
        self.bolts: list[BoltExecutor] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._active = False  # the first round activates the spouts, as Storm does
        self._want_active = True
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._idle = threading.Condition()
        self._round = 0
        self._idle_round = -1
        self._began = 0.0
        self._checkpoint_id = 0
        self.crashed: BaseException | None = None
        self._failed_checkpoint: BaseException | None = None
        self._build()

    # -- construction -------------------------------------------------------------------
    def _build(self) -> None:
        spec, config = self.spec, self.config
        tasks = {c.name: list(c.task_ids) for c in spec.components.values()}
        executors: dict[int, SpoutExecutor | BoltExecutor] = {}
        inboxes: dict[int, Any] = {}
        for comp in spec.components.values():
            for stream, names in comp.outputs.items():
                self._fields_of[(comp.name, stream)] = {f: i for i, f in enumerate(names)}
            for index, task_id in enumerate(comp.task_ids):
                where = self.assignment.get(task_id, 0) if self.assignment else self.index
                if where != self.index:
                    if not comp.is_spout:
                        inboxes[task_id] = Outbox(task_id, self._out.setdefault(where, []))
                    continue
                ctx = TopologyContext(
                    spec.name,
                    comp.name,
                    task_id,
                    index,
                    comp.parallelism,
                    config,
                    tasks,
                    self._requested_checkpoint if config.checkpoint_interval else None,
                    self.index,
                )
                instance = comp.make()
                if comp.is_spout:
                    assert isinstance(instance, Spout)
                    spout = SpoutExecutor(instance, ctx, self.acker)  # type: ignore[arg-type]
                    spout.worker_index = self.index
                    executors[task_id] = spout
                else:
                    assert isinstance(instance, Bolt)
                    bolt = executors[task_id] = BoltExecutor(instance, ctx, self.acker)  # type: ignore[arg-type]
                    inboxes[task_id] = bolt.inbox
        local = frozenset(executors)
        for ex in executors.values():
            self._compile(ex, inboxes, local)
        order = _topological_order(spec)
        for name in order:
            for t in spec.components[name].task_ids:
                if t not in executors:
                    continue
                ex = executors[t]
                (self.spouts if isinstance(ex, SpoutExecutor) else self.bolts).append(ex)  # type: ignore[arg-type]
        self._local_inboxes = {b.task_id: b.inbox for b in self.bolts}

    def _compile(
        self, ex: SpoutExecutor | BoltExecutor, inboxes: dict[int, Any], local: frozenset[int]
    ) -> None:
        comp = self.spec.components[ex.component]
        routes: dict[str, list[Route]] = {}
        direct: dict[str, dict[int, Any]] = {}
        fields: dict[str, dict[str, int]] = {}
        for stream, names in comp.outputs.items():
            index = {f: i for i, f in enumerate(names)}
            fields[stream] = index
            routes[stream] = []
            direct[stream] = {}
            for target, grouping in self.spec.subscribers(comp.name, stream):
                boxes = [inboxes[t] for t in target.task_ids]
                if grouping.kind == "direct":
                    direct[stream].update(zip(target.task_ids, boxes, strict=True))
                    continue
                routes[stream].append(
                    grouping.chooser(
                        boxes, target.task_ids, index, ex.task_id, local, ex.context, stream
                    )
                )
        ex.compile_routes(routes, direct, fields)  # type: ignore[arg-type]

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Open spouts and prepare bolts on the worker thread, then run; raises
        ComputeError if any of them raised."""
        self._thread = threading.Thread(
            target=self._main, name=f"worker-{self.spec.name}", daemon=True
        )
        self._thread.start()
        self._started.wait()
        if isinstance(self._start_error, TopologyError):
            raise self._start_error  # e.g. a window that cannot fit the message timeout
        if self._start_error is not None:
            raise ComputeError(
                f"topology {self.spec.name!r} failed to start: {self._start_error!r}"
            ) from self._start_error

    def _main(self) -> None:
        opened: list[SpoutExecutor] = []
        try:
            for s in self.spouts:
                s.spout.open(s.context)
                opened.append(s)
            for b in self.bolts:
                b.bolt.prepare(b.context)
        except BaseException as exc:
            self._start_error = exc
            for s in opened:  # release what the opened spouts hold (connections...)
                try:
                    s.spout.close()
                except Exception:
                    log.exception("error closing spout %r task %d", s.component, s.task_id)
            self._started.set()
            return
        self._started.set()
        try:
            self._loop()
        except BaseException as exc:
            self.crashed = exc
            log.critical("topology %r stopped: %r", self.spec.name, exc, exc_info=exc)
        finally:
            self._shutdown_components()
            with self._idle:
                self._idle.notify_all()

    def _loop(self) -> None:
        spouts, bolts, acker, config = self.spouts, self.bolts, self.acker, self.config
        batch, max_pending = config.spout_batch, config.max_spout_pending
        now = time.monotonic()
        self._began = now
        for b in bolts:
            if b.tick_seconds:
                b.next_tick = now + b.tick_seconds
        next_expire = now + _EXPIRE_EVERY
        checkpoint_every = config.checkpoint_interval
        next_checkpoint = now + (checkpoint_every or 0.0)
        stop = self._stop
        transport = self.transport
        while not stop.is_set():
            busy = False
            if transport is not None and self._receive():
                busy = True
            if self._want_active is not self._active:
                self._switch_activation()
            for s in spouts:
                if s.done:
                    s.deliver_done()
                    busy = True
                if self._active and s.next_tuples(batch, max_pending):
                    busy = True
            if self._failed_checkpoint is not None:
                raise self._failed_checkpoint
            for b in bolts:
                if b.inbox:
                    b.run_batch()
                    busy = True
            if transport is not None and self._send():
                busy = True
            now = time.monotonic()
            for b in bolts:
                if b.tick_seconds and now >= b.next_tick:
                    b.next_tick = now + b.tick_seconds
                    b.tick()
                    busy = True  # a tick may emit or ack: not an idle round
            if checkpoint_every and now >= next_checkpoint:
                next_checkpoint = now + checkpoint_every
                self.checkpoint()
            if acker is not None and now >= next_expire:
                next_expire = now + _EXPIRE_EVERY
                if acker.expire():
                    busy = True
            self._round += 1
            if not busy:
                if acker is None or not len(acker):
                    with self._idle:
                        self._idle_round = self._round
                        self._idle.notify_all()
                stop.wait(_IDLE_SLEEP)

    def _receive(self) -> bool:
        """Deliver what other workers sent: tuples to inboxes, acks to the acker."""
        assert self.transport is not None
        payloads = self.transport.receive()
        if not payloads:
            return False
        inbox = self._local_inboxes
        acker = self.acker
        for payload in payloads:
            tuples, acks, fails = decode_batch(payload, self._fields_of)
            for task, tup in tuples:
                inbox[task].append(tup)
            if acker is not None:
                for root, value in acks:
                    acker.ack(root, value)
                for root in fails:
                    acker.fail(root)
        return True

    def _send(self) -> bool:
        """One batch per other worker: its tuples, and acks/fails of its trees."""
        assert self.transport is not None
        acker = self.acker
        acks = acker.acks if isinstance(acker, RoutingAcker) else {}
        fails = acker.fails if isinstance(acker, RoutingAcker) else {}
        sent = False
        for worker in set(self._out) | set(acks) | set(fails):
            tuples = self._out.get(worker, [])
            worker_acks, worker_fails = acks.pop(worker, []), fails.pop(worker, [])
            if tuples or worker_acks or worker_fails:
                self.transport.send(worker, encode_batch(tuples, worker_acks, worker_fails))
                tuples.clear()
                sent = True
        return sent

    def _drain(self) -> None:
        """Run bolts until no tuple is in flight inside this worker."""
        bolts = self.bolts
        while any(b.inbox for b in bolts):
            for b in bolts:
                if b.inbox:
                    b.run_batch()

    def checkpoint(self) -> Checkpoint:
        """Take a consistent cut: drain, snapshot spouts, then ``pre_commit`` each bolt
        in topological order, draining after each so its output reaches downstream
        bolts before their turn. Runs on the worker thread; an exception is fatal."""
        self._drain()
        positions: dict[str, dict[int, object]] = {}
        for s in self.spouts:
            s.deliver_done()
            positions.setdefault(s.component, {})[s.task_id] = s.spout.snapshot()
        self._checkpoint_id += 1
        cp = Checkpoint(self._checkpoint_id, positions)
        for b in self.bolts:
            b.bolt.pre_commit(cp)
            self._drain()
        return cp

    def _requested_checkpoint(self) -> Checkpoint:
        """A checkpoint a component asked for (a spout giving up partitions). It runs
        inside the component's call, which may swallow errors; a failure stays fatal."""
        try:
            return self.checkpoint()
        except BaseException as exc:
            self._failed_checkpoint = exc
            raise

    def _switch_activation(self) -> None:
        self._active = self._want_active
        for s in self.spouts:
            try:
                s.spout.activate() if self._active else s.spout.deactivate()
            except Exception:
                log.exception("error (de)activating spout %r task %d", s.component, s.task_id)

    def _shutdown_components(self) -> None:
        for s in self.spouts:
            try:
                s.spout.close()
            except Exception:
                log.exception("error closing spout %r task %d", s.component, s.task_id)
        for b in self.bolts:
            try:
                b.bolt.cleanup()
            except Exception:
                log.exception("error in cleanup of bolt %r task %d", b.component, b.task_id)

    def deactivate(self) -> None:
        """Stop calling ``next_tuple`` (trees in flight still complete)."""
        self._want_active = False

    def activate(self) -> None:
        self._want_active = True

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> None:
        """Block until a whole round passes with nothing emitted, processed or pending."""
        deadline = time.monotonic() + timeout
        with self._idle:
            # Round ``start + 1`` may be under way, its spouts already polled before this
            # call (e.g. before a record was produced): only a later round counts.
            start = self._round + 1
            while self._idle_round <= start:
                if self._thread is not None and not self._thread.is_alive():
                    raise ComputeError(
                        f"topology {self.spec.name!r} is not running"
                        + (f": it crashed with {self.crashed!r}" if self.crashed else "")
                    ) from self.crashed
                left = deadline - time.monotonic()
                if left <= 0:
                    pending = len(self.acker) if self.acker is not None else 0
                    raise IdleTimeout(
                        f"topology {self.spec.name!r} not idle after {timeout:.3g}s "
                        f"({pending} tuple trees pending)"
                    )
                self._idle.wait(min(left, 0.05))

    # -- metrics ------------------------------------------------------------------------
    def metrics(self) -> dict[str, ComponentMetrics]:
        """Per component; read from another thread, so figures are approximate."""
        wall = max(time.monotonic() - self._began, 1e-9) if self._began else 1e-9
        out: dict[str, ComponentMetrics] = {}
        for name, comp in self.spec.components.items():
            out[name] = ComponentMetrics(name, comp.parallelism)
        hist: dict[str, LatencyHistogram] = {}
        for s in self.spouts:
            m = out[s.component]
            m.emitted += s.emitted
            m.acked += s.acked
            m.failed += s.failed
            hist.setdefault(s.component, LatencyHistogram()).merge(s.complete_latency)
        for name, h in hist.items():
            out[name].complete_latency_ms_p50 = h.quantile(0.5) * 1e3
            out[name].complete_latency_ms_p99 = h.quantile(0.99) * 1e3
        busy: dict[str, float] = {}
        seconds: dict[str, float] = {}
        for b in self.bolts:
            m = out[b.component]
            m.emitted += b.emitted
            m.acked += b.acked
            m.failed += b.failed
            m.executed += b.executed
            seconds[b.component] = seconds.get(b.component, 0.0) + b.execute_seconds
            busy[b.component] = max(busy.get(b.component, 0.0), b.execute_seconds / wall)
        for name, total in seconds.items():
            m = out[name]
            m.execute_latency_ms = total / m.executed * 1e3 if m.executed else 0.0
            m.capacity = busy[name]
        return out


def _topological_order(spec: TopologySpec) -> list[str]:
    """Spouts first, then bolts after their sources where the graph allows (cycles keep
    declaration order), so one round carries tuples as far downstream as it can."""
    order: list[str] = [c.name for c in spec.spouts]
    placed = set(order)
    remaining = [c for c in spec.bolts]
    while remaining:
        ready = [c for c in remaining if all(s.source in placed for s in c.inputs)]
        pick = ready[0] if ready else remaining[0]
        order.append(pick.name)
        placed.add(pick.name)
        remaining.remove(pick)
    return order
