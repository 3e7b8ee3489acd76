"""The long-running processes' garbage-collector settings: rare collections, never
none, and nothing left frozen once the process stops serving."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

from squall.gc_tuning import WORKER_THRESHOLDS, frozen_gc


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_collections_are_rare_but_cycles_are_still_collected() -> None:
    with frozen_gc(WORKER_THRESHOLDS):
        assert gc.isenabled()
        assert gc.get_threshold() == WORKER_THRESHOLDS
        collections = gc.get_stats()[0]["collections"]
        cycle = _cycle()
        garbage = [[] for _ in range(WORKER_THRESHOLDS[0] // 2)]  # short of one threshold
        assert cycle() is not None  # no collection yet
        assert gc.get_stats()[0]["collections"] == collections
        del garbage
        # keep allocating containers that survive: the collector must run by itself
        kept = [[] for _ in range(WORKER_THRESHOLDS[0] * 2)]
        assert cycle() is None, "the cycle was never collected"
        assert gc.get_stats()[0]["collections"] > collections
        del kept


def test_the_freeze_lasts_for_the_block_only() -> None:
    thresholds = gc.get_threshold()
    before = gc.get_freeze_count()
    with frozen_gc(WORKER_THRESHOLDS):
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


def test_a_process_that_served_exits_without_duckdb_leak_reports() -> None:
    """A frozen object is never collected, not even at exit: DuckDB's nanobind then
    prints "leaked N instances" for every DuckDB object still alive."""
    script = (
        "import duckdb\n"
        "from squall.gc_tuning import frozen_gc\n"
        "con = duckdb.connect(':memory:')\n"
        "with frozen_gc():\n"
        "    con.execute('SELECT 1').fetchall()\n"
        "con.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr
