"""The main of a worker process started by ``ProcessCluster`` (Storm's worker JVM).

The process gets the pickled topology, its worker index, the task assignment and the
peers' socket addresses; it runs a ``Worker`` with its share of the tasks over a
``SocketTransport`` and obeys the cluster over a control pipe:

1. unpickle the topology, listen for peers, open spouts and prepare bolts, with the
   spouts inactive; send ``("ready", pid)``, or ``("error", kind, message)`` and exit;
2. ``("activate",)`` once every worker listens, so no early batch is dropped;
3. then, until ``("stop",)`` or the pipe closes (the cluster is gone): requests
   ``(op, seq, ...)`` answered with ``("reply", seq, payload)``: ``idle`` (did a
   round pass with nothing to do and no tree pending, and how much work was done so
   far), ``metrics``; and ``deactivate``/``activate``.

A worker whose loop crashed exits with code 1, so the cluster replaces it.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection

from squall.compute.config import Config
from squall.compute.exceptions import ComputeError, TopologyError
from squall.compute.messaging import SocketTransport
from squall.compute.topology import TopologySpec
from squall.compute.worker import Worker

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(
    spec_bytes: bytes,
    config: Config,
    assignment: Mapping[int, int],
    index: int,
    addresses: Sequence[str],
    authkey: bytes,
    control: Connection,
) -> None:
    """Run worker ``index`` until told to stop; the target of the worker process."""
    try:
        spec = pickle.loads(spec_bytes)
        assert isinstance(spec, TopologySpec)
    except Exception as exc:
        control.send(
            (
                "error",
                "topology",
                f"worker {index} could not load the topology: {exc!r}. A worker process "
                f"imports each component by its module and name: define spouts, bolts "
                f"and custom groupings at the top level of a module that a fresh Python "
                f"process can import (on sys.path)",
            )
        )
        raise SystemExit(1) from None
    transport = SocketTransport(addresses, index, authkey)
    worker = Worker(spec, config, assignment, index, transport)
    worker.deactivate()  # until every peer listens
    try:
        worker.start()
    except ComputeError as exc:
        kind = "topology" if isinstance(exc, TopologyError) else "compute"
        control.send(("error", kind, f"worker {index}: {exc}"))
        transport.close()
        raise SystemExit(1) from None
    control.send(("ready", os.getpid()))
    try:
        code = _serve(worker, transport, control)
    finally:
        worker.stop()
        transport.close()
    if code:
        raise SystemExit(code)


def _serve(worker: Worker, transport: SocketTransport, control: Connection) -> int:
    """Answer the cluster until it says stop (0) or the worker crashes (1)."""
    while worker.crashed is None:
        if not control.poll(0.1):
            continue
        try:
            msg = control.recv()
        except (EOFError, OSError):
            return 0  # the cluster is gone: nobody to work for
        op = msg[0]
        if op == "stop":
            return 0
        if op == "activate":
            worker.activate()
        elif op == "deactivate":
            worker.deactivate()
        elif op == "idle":
            try:
                worker.wait_idle(msg[2])
                idle = True
            except ComputeError:
                idle = False
            control.send(("reply", msg[1], (idle, _work_done(worker, transport))))
        elif op == "metrics":
            control.send(("reply", msg[1], worker.metrics()))
    log.critical("worker %d crashed: %r", worker.index, worker.crashed)
    return 1


def _work_done(worker: Worker, transport: SocketTransport) -> int:
    """Grows with every emit, execution, completed tree and received batch."""
    done = transport.received
    for s in worker.spouts:
        done += s.emitted + s.acked + s.failed
    for b in worker.bolts:
        done += b.emitted + b.executed
    return done
