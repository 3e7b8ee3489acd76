"""The worker process's garbage-collector settings: rare collections, never none."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from compute.runner import GC_THRESHOLDS, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_collections_are_rare_but_cycles_are_still_collected(restored_gc: None) -> None:
    gc.collect()
    tune_gc()
    assert gc.isenabled()
    assert gc.get_threshold() == GC_THRESHOLDS
    collections = gc.get_stats()[0]["collections"]
    cycle = _cycle()
    garbage = [[] for _ in range(GC_THRESHOLDS[0] // 2)]  # short of one threshold
    assert cycle() is not None  # no collection yet
    assert gc.get_stats()[0]["collections"] == collections
    del garbage
    # keep allocating containers that survive: the collector must run by itself
    kept = [[] for _ in range(GC_THRESHOLDS[0] * 2)]
    assert cycle() is None, "the cycle was never collected"
    assert gc.get_stats()[0]["collections"] > collections
    del kept


def test_freeze_hides_what_exists_from_later_collections(restored_gc: None) -> None:
    gc.collect()
    before = gc.get_freeze_count()
    tune_gc()
    assert gc.get_freeze_count() > before
