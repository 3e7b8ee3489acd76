"""Stream groupings: which task(s) of a subscribing bolt receive each tuple.

Meanings, as in Storm:

* shuffle: spread tuples evenly (round-robin over a shuffled order).
* fields: tuples with equal values in the named fields go to the same task.
* partial_key: like fields, but each key may use two candidate tasks; the less loaded
  one (by tuples this emitter sent) wins, so a hot key spreads over two tasks.
* all: every task gets a copy.
* global: only the task with the lowest id.
* none: don't care; a random task.
* direct: the emitter picks the task with ``emit_direct``.
* local_or_shuffle: shuffle among the target tasks in the emitter's worker process,
  or among all if none are local.
* custom: a callable ``(target_tasks, values) -> task ids``, or an object with
  ``prepare(context, stream, target_tasks)`` and ``choose_tasks(task_id, values)``.

Declarations (``Grouping``) are what users build; ``Grouping.chooser`` compiles one into
a per-tuple function once, when the topology starts, so that routing allocates nothing.
"""

from __future__ import annotations

import copy
import itertools
import random
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from squall.compute.context import TopologyContext
from squall.compute.exceptions import EmitError

__all__ = ["CustomGrouping", "Grouping", "stable_hash"]

KINDS = (
    "shuffle",
    "fields",
    "partial_key",
    "all",
    "global",
    "none",
    "direct",
    "local_or_shuffle",
    "custom",
)

_SINGLE_TARGET = frozenset(
    {"shuffle", "fields", "partial_key", "global", "none", "local_or_shuffle"}
)


class Inbox(Protocol):
    def append(self, item: Any, /) -> None: ...


class CustomGrouping(Protocol):
    def prepare(self, context: TopologyContext, stream: str, target_tasks: list[int]) -> None: ...

    def choose_tasks(self, task_id: int, values: Sequence[Any]) -> Sequence[int]: ...


def stable_hash(value: Any, seed: int = 0) -> int:
    """A hash that is the same in every process (unlike ``hash`` of str), so workers in
    different processes route a key to the same task."""
    t = type(value)
    if t is str:
        return zlib.crc32(value.encode("utf-8", "surrogatepass"), seed)
    if t is int:
        size = 16 if -(2**127) <= value < 2**127 else value.bit_length() // 8 + 1
        return zlib.crc32(value.to_bytes(size, "little", signed=True), seed)
    if t is bytes:
        return zlib.crc32(value, seed)
    if t is tuple or t is list:
        h = seed
        for item in value:
            h = stable_hash(item, h)
        return h
    if t is frozenset or t is set or t is dict:
        # Unordered: combine the members order-independently. Their repr is no good:
        # a set of str iterates in an order that differs between processes, and equal
        # dicts may differ in insertion order.
        acc = 0
        for item in value.items() if t is dict else value:
            acc = (acc + _mix32(stable_hash(item))) & 0xFFFFFFFF
        return zlib.crc32(acc.to_bytes(4, "little") + (b"d" if t is dict else b"s"), seed)
    return zlib.crc32(repr(value).encode(), seed)


def _mix32(h: int) -> int:
    """MurmurHash3's 32-bit finaliser: every output bit depends on every input bit."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


@dataclass(frozen=True)
class Grouping:
    """A subscription's grouping, as declared on the topology builder."""

    kind: str
    fields: tuple[str, ...] = ()
    custom: Any = None

    def chooser(
        self,
        inboxes: Sequence[Inbox],
        task_ids: Sequence[int],
        field_index: Mapping[str, int],
        emitter_task: int,
        local_tasks: frozenset[int],
        context: TopologyContext,
        stream: str,
    ) -> tuple[Callable[[Sequence[Any]], Any], bool]:
        """Compile to ``(choose, multi)``: ``choose(values)`` returns one inbox, or a
        sequence of inboxes when ``multi``. ``inboxes[i]`` belongs to ``task_ids[i]``."""
        n = len(inboxes)
        kind = self.kind
        if n == 1 and kind in _SINGLE_TARGET:  # one task: nothing to decide per tuple
            only = inboxes[0]
            return (lambda _values: only), False
        if kind == "shuffle" or (kind == "local_or_shuffle" and not local_tasks):
            order = list(inboxes)
            random.shuffle(order)
            cycle = itertools.cycle(order)
            return (lambda _values: next(cycle)), False
        if kind == "local_or_shuffle":
            local = [ib for ib, t in zip(inboxes, task_ids, strict=True) if t in local_tasks]
            order = local or list(inboxes)
            random.shuffle(order)  # else every emitter starts on the same task
            cycle = itertools.cycle(order)
            return (lambda _values: next(cycle)), False
        if kind == "none":
            pick = random.Random().choice
            return (lambda _values: pick(inboxes)), False
        if kind == "global":
            lowest = inboxes[min(range(n), key=task_ids.__getitem__)]
            return (lambda _values: lowest), False
        if kind == "all":
            everyone = tuple(inboxes)
            return (lambda _values: everyone), True
        if kind == "fields":
            return self._fields_chooser(inboxes, field_index), False
        if kind == "partial_key":
            return self._partial_key_chooser(inboxes, field_index), False
        if kind == "custom":
            return self._custom_chooser(inboxes, task_ids, emitter_task, context, stream), True
        raise AssertionError(f"grouping {kind!r} is not routed by chooser")  # direct

    def _fields_chooser(
        self, inboxes: Sequence[Inbox], field_index: Mapping[str, int]
    ) -> Callable[[Sequence[Any]], Any]:
        n = len(inboxes)
        idx = [field_index[f] for f in self.fields]
        if len(idx) == 1:
            (i,) = idx
            return lambda values: inboxes[stable_hash(values[i]) % n]
        if len(idx) == 2:  # the common compound key, without building a list
            i, j = idx
            return lambda values: inboxes[stable_hash(values[j], stable_hash(values[i])) % n]
        return lambda values: inboxes[stable_hash([values[i] for i in idx]) % n]

    def _partial_key_chooser(
        self, inboxes: Sequence[Inbox], field_index: Mapping[str, int]
    ) -> Callable[[Sequence[Any]], Any]:
        n = len(inboxes)
        idx = [field_index[f] for f in self.fields]
        load = [0] * n

        def choose(values: Sequence[Any]) -> Any:  # hot
            # Two distinct candidates. Not crc32 under two seeds: crc32 is affine in its
            # seed, so for a power-of-two n the two picks would differ by a constant that
            # depends only on the key's length (all 3-byte keys on one task when n=2).
            h = stable_hash([values[i] for i in idx])
            a = h % n
            if n == 1:
                return inboxes[0]
            b = (a + 1 + _mix32(h) % (n - 1)) % n
            chosen = a if load[a] <= load[b] else b
            load[chosen] += 1
            return inboxes[chosen]

        return choose

    def _custom_chooser(
        self,
        inboxes: Sequence[Inbox],
        task_ids: Sequence[int],
        emitter_task: int,
        context: TopologyContext,
        stream: str,
    ) -> Callable[[Sequence[Any]], Any]:
        by_task = dict(zip(task_ids, inboxes, strict=True))
        targets = list(task_ids)
        custom = self.custom
        if hasattr(custom, "choose_tasks"):
            custom = copy.deepcopy(custom)  # one instance per emitting task, as in Storm
            if hasattr(custom, "prepare"):
                custom.prepare(context, stream, targets)
            choose_tasks = custom.choose_tasks

            def choose(values: Sequence[Any]) -> list[Any]:
                return _inboxes(by_task, choose_tasks(emitter_task, values), custom, stream)

            return choose
        return lambda values: _inboxes(by_task, custom(targets, values), custom, stream)


def _inboxes(
    by_task: Mapping[int, Any], tasks: Sequence[int], custom: Any, stream: str
) -> list[Any]:
    try:
        return [by_task[t] for t in tasks]
    except (KeyError, TypeError):
        raise EmitError(
            f"custom grouping {custom!r} on stream {stream!r} chose tasks {tasks!r}; "
            f"it must return a list of ids from {sorted(by_task)}"
        ) from None
