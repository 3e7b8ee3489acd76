"""Fewer, cheaper cyclic garbage collections in Squall's long-running processes.

A collector request or a worker's batch allocates thousands of short-lived containers,
so CPython's cyclic collector runs often, and every full pass re-scans everything the
process holds (the app, the topology, the batches in flight): tens of ms of request
latency, a third of a worker's CPU (bench/scaleout.py). ``gc.freeze()`` moves what
startup allocated out of the collector's sight, and higher thresholds make collections
rare. Reference cycles are still collected, in bigger, less frequent passes.

The freeze lasts only while the process serves: a frozen object is never collected,
not even at interpreter exit, and extension types whose objects outlive their module
complain then (DuckDB: "nanobind: leaked N instances").
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["WORKER_THRESHOLDS", "frozen_gc"]

WORKER_THRESHOLDS = (50_000, 20, 100)
"""A worker process's collector thresholds (CPython's default is 700, 10, 10)."""


@contextmanager
def frozen_gc(thresholds: tuple[int, int, int] | None = None) -> Iterator[None]:
    """Freeze what exists now (and use ``thresholds``, if given) for the block; then
    unfreeze and restore the previous thresholds."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    if thresholds is not None:
        gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*previous)
