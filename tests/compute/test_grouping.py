"""Every stream grouping, checked by where tuples actually arrive in a running topology."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pytest

from squall.compute import Bolt, EmitError, LocalCluster, Spout, Topology, TopologyContext, Tuple
from squall.compute.grouping import stable_hash

Row = tuple[Any, ...]


class Seen:
    """What a recording bolt saw: one entry per delivered tuple, and its tasks' ids."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, Row, str, str, int]] = []  # task, values, stream, src, src task
        self.tasks: list[int] = []
        self.fields: set[tuple[str, ...]] = set()

    def by_task(self) -> dict[int, list[Row]]:
        out: dict[int, list[Row]] = defaultdict(list)
        for task, values, *_ in self.rows:
            out[task].append(values)
        return out


def rows_spout(rows: Sequence[Row], outputs: Any) -> type[Spout]:
    """A spout class emitting ``rows`` (each row a (stream, values) pair or plain values)
    untracked, split over its tasks by task_index."""

    class Rows(Spout):
        def open(self, context: TopologyContext) -> None:
            self.left = iter(list(rows)[context.task_index :: context.parallelism])

        def next_tuple(self) -> None:
            row = next(self.left, None)
            if row is None:
                return
            if isinstance(outputs, dict):
                stream, values = row
                self.emit(list(values), stream=stream)
            else:
                self.emit(list(row))

    Rows.outputs = outputs
    return Rows


def recorder(seen: Seen) -> type[Bolt]:
    class Record(Bolt):
        def prepare(self, context: TopologyContext) -> None:
            self.task = context.task_id
            seen.tasks.append(context.task_id)

        def process(self, tup: Tuple) -> None:
            seen.fields.add(tup.fields)
            seen.rows.append(
                (self.task, tuple(tup.values), tup.stream, tup.source, tup.source_task)
            )

    return Record


def run(cluster: LocalCluster, topo: Topology) -> None:
    cluster.submit(topo)
    cluster.wait_idle(timeout=20)


def test_shuffle_spreads_evenly_and_delivers_each_tuple_once(cluster: LocalCluster) -> None:
    n = 4000
    seen = Seen()
    topo = Topology("shuffle")
    topo.spout("s", rows_spout([(i,) for i in range(n)], ["n"]), parallelism=2)
    topo.bolt("b", recorder(seen), parallelism=4).shuffle_grouping("s")
    run(cluster, topo)

    assert sorted(v for _, (v,), *_ in seen.rows) == list(range(n))
    counts = Counter(task for task, *_ in seen.rows)
    assert set(counts) == set(seen.tasks) and len(seen.tasks) == 4
    for task, count in counts.items():
        assert abs(count - n / 4) <= 0.05 * n / 4, (task, counts)


def test_local_or_shuffle_in_one_process_spreads_over_all_tasks(cluster: LocalCluster) -> None:
    n = 900
    seen = Seen()
    topo = Topology("local")
    topo.spout("s", rows_spout([(i,) for i in range(n)], ["n"]))
    topo.bolt("b", recorder(seen), parallelism=3).local_or_shuffle_grouping("s")
    run(cluster, topo)

    assert sorted(v for _, (v,), *_ in seen.rows) == list(range(n))
    counts = Counter(task for task, *_ in seen.rows)
    assert set(counts) == set(seen.tasks)
    assert all(abs(c - n / 3) <= 0.05 * n / 3 for c in counts.values()), counts


@pytest.mark.parametrize("kind", ["shuffle", "local_or_shuffle"])
def test_emitters_do_not_all_start_on_the_same_task(cluster: LocalCluster, kind: str) -> None:
    """16 spout tasks emit one tuple each: a shuffle must not send all 16 to one task
    (each emitter's order is its own; all on one task has probability 4**-15)."""
    seen = Seen()
    topo = Topology("starts")
    topo.spout("s", rows_spout([(i,) for i in range(16)], ["n"]), parallelism=16)
    getattr(topo.bolt("b", recorder(seen), parallelism=4), f"{kind}_grouping")("s")
    run(cluster, topo)

    assert sorted(v for _, (v,), *_ in seen.rows) == list(range(16))
    assert len({task for task, *_ in seen.rows}) > 1


def test_fields_each_key_reaches_exactly_one_task_across_emitters(cluster: LocalCluster) -> None:
    keys = [f"key-{i % 49}" for i in range(2000)]  # 49: both spout tasks see each key
    seen = Seen()
    topo = Topology("fields")
    topo.spout("s", rows_spout([(k, i) for i, k in enumerate(keys)], ["key", "i"]), parallelism=2)
    topo.bolt("b", recorder(seen), parallelism=4).fields_grouping("s", ["key"])
    run(cluster, topo)

    assert sorted(i for _, (_, i), *_ in seen.rows) == list(range(len(keys)))
    # both spout tasks sent every key (so "same key, same task" is across emitters)
    sources = defaultdict(set)
    tasks_of_key = defaultdict(set)
    for task, (key, _), _stream, _src, src_task in seen.rows:
        tasks_of_key[key].add(task)
        sources[key].add(src_task)
    assert all(len(s) == 2 for s in sources.values())
    assert all(len(t) == 1 for t in tasks_of_key.values()), tasks_of_key
    assert Counter(k for _, (k, _), *_ in seen.rows) == Counter(keys)
    # the keys are spread: every task owns some
    assert set().union(*tasks_of_key.values()) == set(seen.tasks)


def test_fields_on_two_fields_groups_by_the_pair(cluster: LocalCluster) -> None:
    pairs = [(a, b) for a in range(5) for b in range(20)] * 5
    seen = Seen()
    topo = Topology("fields2")
    topo.spout("s", rows_spout([(a, "x", b) for a, b in pairs], ["a", "other", "b"]))
    topo.bolt("b", recorder(seen), parallelism=4).fields_grouping("s", ["a", "b"])
    run(cluster, topo)

    assert len(seen.rows) == len(pairs)
    tasks_of = defaultdict(set)
    for task, (a, _, b), *_ in seen.rows:
        tasks_of[(a, b)].add(task)
    assert all(len(t) == 1 for t in tasks_of.values())
    # both fields count: pairs sharing ``a`` (or ``b``) do not all land together
    for a in range(5):
        assert len(set().union(*(tasks_of[(a, b)] for b in range(20)))) > 1
    for b in range(20):
        assert len(set().union(*(tasks_of[(a, b)] for a in range(5)))) > 1


def test_partial_key_splits_a_hot_key_over_exactly_two_tasks(cluster: LocalCluster) -> None:
    rows: list[Row] = []
    for i in range(1500):  # hot, cold, cold: both spout tasks emit both kinds
        rows += [("hot", i), (f"cold-{i % 97}", i), (f"cold-{(i + 50) % 97}", i)]
    seen = Seen()
    topo = Topology("pkg")
    topo.spout("s", rows_spout(rows, ["key", "i"]), parallelism=2)
    topo.bolt("b", recorder(seen), parallelism=4).partial_key_grouping("s", ["key"])
    run(cluster, topo)

    assert len(seen.rows) == len(rows)
    load: dict[str, Counter[int]] = defaultdict(Counter)
    emitters: dict[str, set[int]] = defaultdict(set)
    for task, (key, _), _stream, _src, src_task in seen.rows:
        load[key][task] += 1
        emitters[key].add(src_task)
    assert len(emitters["hot"]) == 2
    hot = load.pop("hot")
    assert len(hot) == 2, hot
    assert all(0.4 <= c / 1500 <= 0.6 for c in hot.values()), hot
    assert all(len(tasks) <= 2 for tasks in load.values())
    assert any(len(tasks) == 2 for tasks in load.values())


@pytest.mark.parametrize("parallelism", [2, 3, 4, 8])
def test_partial_key_splits_a_hot_key_of_any_length(
    cluster: LocalCluster, parallelism: int
) -> None:
    # one hot key per stream, each stream into its own bolt: keys do not share load
    hot_keys = ["h", "ho", "hot", "hot!", "hot-1", "abcdef", "abcdefg", "abcdefgh", "/favicon.ico"]
    streams = {f"s{j}": ["key", "i"] for j in range(len(hot_keys))}
    rows = [(f"s{j}", (k, i)) for i in range(100) for j, k in enumerate(hot_keys)]
    seen = [Seen() for _ in hot_keys]
    topo = Topology("pkg-hot")
    topo.spout("s", rows_spout(rows, streams))
    for j, rec in enumerate(seen):
        topo.bolt(f"b{j}", recorder(rec), parallelism=parallelism).partial_key_grouping(
            "s", "key", stream=f"s{j}"
        )
    run(cluster, topo)

    for key, rec in zip(hot_keys, seen, strict=True):
        tasks = Counter(task for task, *_ in rec.rows)
        assert {v[0] for _, v, *_ in rec.rows} == {key}
        assert len(tasks) == 2 and set(tasks.values()) == {50}, (key, tasks)


def test_all_delivers_every_tuple_to_every_task(cluster: LocalCluster) -> None:
    n = 300
    seen = Seen()
    topo = Topology("all")
    topo.spout("s", rows_spout([(i,) for i in range(n)], ["n"]))
    topo.bolt("b", recorder(seen), parallelism=3).all_grouping("s")
    run(cluster, topo)

    by_task = seen.by_task()
    assert sorted(by_task) == sorted(seen.tasks) and len(by_task) == 3
    for got in by_task.values():
        assert sorted(v for (v,) in got) == list(range(n))


def test_global_sends_everything_to_the_lowest_task_id(cluster: LocalCluster) -> None:
    n = 300
    seen, other = Seen(), Seen()
    topo = Topology("global")
    topo.spout("s", rows_spout([(i,) for i in range(n)], ["n"]))
    topo.bolt("first", recorder(other), parallelism=2).shuffle_grouping("s")
    topo.bolt("b", recorder(seen), parallelism=3).global_grouping("s")
    run(cluster, topo)

    assert len(seen.tasks) == 3
    lowest = min(seen.tasks)
    assert lowest > min(other.tasks)  # "b" does not own the topology's lowest ids
    assert {task for task, *_ in seen.rows} == {lowest}
    assert sorted(v for _, (v,), *_ in seen.rows) == list(range(n))


def test_none_delivers_each_tuple_to_one_task(cluster: LocalCluster) -> None:
    n = 600
    seen = Seen()
    topo = Topology("none")
    topo.spout("s", rows_spout([(i,) for i in range(n)], ["n"]))
    topo.bolt("b", recorder(seen), parallelism=3).none_grouping("s")
    run(cluster, topo)

    assert sorted(v for _, (v,), *_ in seen.rows) == list(range(n))
    assert {task for task, *_ in seen.rows} == set(seen.tasks)


class DirectSpout(Spout):
    """Emits ``n`` to task ``tasks_of("d")[n % parallelism]`` with emit_direct; records
    the errors of emits that break the direct contract."""

    outputs = {"to": ["target", "n"], "default": ["n"]}
    errors: list[str]

    def open(self, context: TopologyContext) -> None:
        self.targets = list(context.tasks_of("d"))
        self.shuffled = list(context.tasks_of("sh"))
        self.n = 0
        self.errors = DirectSpout.errors

    def next_tuple(self) -> None:
        if self.n == 0:
            attempts = [
                (self.shuffled[0], "to"),  # subscribes to "default", and not directly
                (self.targets[0], "default"),  # subscribes directly, but to "to"
                (10_000, "to"),  # no such task
            ]
            for task, stream in attempts:
                try:
                    self.emit_direct(task, [task, -1], stream=stream)
                except EmitError as exc:
                    self.errors.append(str(exc))
        if self.n < 300:
            target = self.targets[self.n % len(self.targets)]
            self.emit_direct(target, [target, self.n], msg_id=self.n, stream="to")
            self.emit([self.n])
            self.n += 1


def test_direct_reaches_exactly_the_named_task(cluster: LocalCluster) -> None:
    seen, shuffled = Seen(), Seen()
    DirectSpout.errors = []
    topo = Topology("direct")
    topo.spout("s", DirectSpout)
    topo.bolt("d", recorder(seen), parallelism=3).direct_grouping("s", stream="to")
    topo.bolt("sh", recorder(shuffled), parallelism=2).shuffle_grouping("s")
    run(cluster, topo)

    assert len(seen.rows) == 300
    assert all(task == target for task, (target, _), *_ in seen.rows)
    assert sorted(n for _, (_, n), *_ in seen.rows) == list(range(300))
    assert {task for task, *_ in seen.rows} == set(seen.tasks)
    # a plain emit on "default" never reaches the direct subscriber, which is not on it
    assert sorted(n for _, (n,), *_ in shuffled.rows) == list(range(300))
    assert len(DirectSpout.errors) == 3
    assert all("does not subscribe" in e for e in DirectSpout.errors)
    assert "10000" in DirectSpout.errors[2]


def test_direct_from_a_bolt_with_anchors_completes_the_trees(cluster: LocalCluster) -> None:
    seen = Seen()
    acked: list[int] = []

    class Src(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            self.n = 0

        def next_tuple(self) -> None:
            if self.n < 100:
                self.emit([self.n], msg_id=self.n)
                self.n += 1

        def ack(self, msg_id: Any) -> None:
            acked.append(msg_id)

    class Router(Bolt):
        outputs = ["target", "n"]

        def prepare(self, context: TopologyContext) -> None:
            self.targets = list(context.tasks_of("d"))

        def process(self, tup: Tuple) -> None:
            target = self.targets[-1 if tup["n"] % 2 else 0]
            self.emit_direct(target, [target, tup["n"]], anchors=[tup])

    topo = Topology("direct-bolt")
    topo.spout("s", Src)
    topo.bolt("r", Router, parallelism=2).shuffle_grouping("s")
    topo.bolt("d", recorder(seen), parallelism=3).direct_grouping("r")
    run(cluster, topo)

    assert sorted(acked) == list(range(100))
    assert all(task == target for task, (target, _), *_ in seen.rows)
    assert Counter(task for task, *_ in seen.rows) == {min(seen.tasks): 50, max(seen.tasks): 50}


def test_custom_callable_chooses_the_tasks(cluster: LocalCluster) -> None:
    calls: list[list[int]] = []

    def route(targets: list[int], values: Sequence[Any]) -> list[int]:
        calls.append(targets)
        n = values[0]
        return [targets[0], targets[-1]] if n % 5 == 0 else [targets[n % len(targets)]]

    seen = Seen()
    topo = Topology("custom")
    topo.spout("s", rows_spout([(i,) for i in range(100)], ["n"]))
    topo.bolt("b", recorder(seen), parallelism=3).custom_grouping("s", route)
    run(cluster, topo)

    targets = sorted(seen.tasks)
    assert all(c == targets for c in calls) and len(calls) == 100
    got = sorted((v, task) for task, (v,), *_ in seen.rows)
    want = sorted(
        (n, t)
        for n in range(100)
        for t in ([targets[0], targets[2]] if n % 5 == 0 else [targets[n % 3]])
    )
    assert got == want


class ModGrouping:
    """A custom grouping object: n -> targets[n % len]; records its lifecycle."""

    log: list[tuple[str, Any]]

    def __init__(self) -> None:
        self.targets: list[int] = []

    def prepare(self, context: TopologyContext, stream: str, target_tasks: list[int]) -> None:
        self.targets = target_tasks
        ModGrouping.log.append(("prepare", (id(self), context.component, context.task_id, stream)))

    def choose_tasks(self, task_id: int, values: Sequence[Any]) -> list[int]:
        ModGrouping.log.append(("choose", (id(self), task_id)))
        return [self.targets[values[0] % len(self.targets)]]


def test_custom_object_is_prepared_per_emitting_task(cluster: LocalCluster) -> None:
    ModGrouping.log = []
    seen, spout_tasks = Seen(), Seen()
    topo = Topology("custom-obj")
    # both spout tasks (rows split by task_index) emit on both streams
    rows = [("odd" if (i // 2) % 2 else "even", (i,)) for i in range(60)]
    topo.spout("s", rows_spout(rows, {"odd": ["n"], "even": ["n"]}), parallelism=2)
    topo.bolt("b", recorder(seen), parallelism=3).custom_grouping("s", ModGrouping(), "odd")
    topo.bolt("probe", recorder(spout_tasks)).shuffle_grouping("s", "even")
    run(cluster, topo)

    prepared = [p for kind, p in ModGrouping.log if kind == "prepare"]
    assert len(prepared) == 2 and len({p[0] for p in prepared}) == 2  # a copy per emitter
    emitters = {src_task for *_, src_task in spout_tasks.rows}
    assert {(c, t, s) for _, c, t, s in prepared} == {("s", t, "odd") for t in emitters}
    chooser_of = {p[0]: p[2] for p in prepared}
    chosen = [p for kind, p in ModGrouping.log if kind == "choose"]
    assert len(chosen) == 30 and all(chooser_of[i] == t for i, t in chosen)
    targets = sorted(seen.tasks)
    assert sorted((v, task) for task, (v,), *_ in seen.rows) == [
        (n, targets[n % 3]) for stream, (n,) in rows if stream == "odd"
    ]


def test_custom_grouping_choosing_an_unknown_task_is_an_emit_error(
    cluster: LocalCluster,
) -> None:
    errors: list[str] = []

    class Once(Spout):
        outputs = ["n"]

        def open(self, context: TopologyContext) -> None:
            self.done = False

        def next_tuple(self) -> None:
            if not self.done:
                self.done = True
                try:
                    self.emit([1])
                except EmitError as exc:
                    errors.append(str(exc))

    topo = Topology("custom-bad")
    topo.spout("s", Once)
    topo.bolt("b", recorder(Seen()), parallelism=2).custom_grouping("s", lambda t, v: [999])
    run(cluster, topo)
    assert len(errors) == 1 and "999" in errors[0]


def test_named_streams_reach_only_their_subscribers(cluster: LocalCluster) -> None:
    rows = [("even", (i,)) if i % 2 == 0 else ("odd", (i, i // 2)) for i in range(200)]
    evens, odds, both = Seen(), Seen(), Seen()
    topo = Topology("streams")
    topo.spout("s", rows_spout(rows, {"even": ["n"], "odd": ["n", "half"]}))
    topo.bolt("e", recorder(evens), parallelism=2).shuffle_grouping("s", stream="even")
    topo.bolt("o", recorder(odds), parallelism=2).fields_grouping("s", ["half"], stream="odd")
    topo.bolt("a", recorder(both), parallelism=2).all_grouping("s", "even").global_grouping(
        "s", "odd"
    )
    run(cluster, topo)

    assert sorted(v[0] for _, v, *_ in evens.rows) == list(range(0, 200, 2))
    assert sorted(v for _, v, *_ in odds.rows) == [(i, i // 2) for i in range(1, 200, 2)]
    assert {(s, src) for _, _, s, src, _ in evens.rows} == {("even", "s")}
    assert {(s, src) for _, _, s, src, _ in odds.rows} == {("odd", "s")}
    assert evens.fields == {("n",)} and odds.fields == {("n", "half")}
    # "a": every even tuple on both tasks, every odd one on the lowest task only
    by_stream = Counter((task, stream) for task, _, stream, *_ in both.rows)
    lo, hi = sorted(both.tasks)
    assert by_stream == {(lo, "even"): 100, (hi, "even"): 100, (lo, "odd"): 100}


def test_stable_hash_is_the_same_in_another_process() -> None:
    values: list[Any] = [
        "GET /a",
        42,
        -7,
        2**200,
        b"raw",
        ("a", 1),
        ["x", ("y", 2)],
        1.5,
        frozenset(["alpha", "beta", "gamma", "delta", "epsilon"]),
        {"service": "web", "method": "GET"},
    ]
    here = [stable_hash(v) for v in values] + [stable_hash(v, 17) for v in values]
    code = (
        "from compute.grouping import stable_hash\n"
        f"vs = {values!r}\n"
        "print([stable_hash(v) for v in vs] + [stable_hash(v, 17) for v in vs])"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == repr(here)
    assert len(set(here)) == len(here)


def test_stable_hash_of_equal_unordered_keys_is_equal() -> None:
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})
    assert stable_hash({"a": 1, "b": 2}) != stable_hash({"a": 2, "b": 1})
    assert stable_hash({"x", "y"}) == stable_hash(frozenset(["y", "x"]))
    assert stable_hash({"x", "y"}) != stable_hash({"x", "z"})


@pytest.mark.parametrize("value", [2**127, -(2**127) - 1, 10**60, "bad \udcff surrogate", None])
def test_stable_hash_accepts_any_key(value: Any) -> None:
    assert stable_hash(value) == stable_hash(value)
    assert 0 <= stable_hash(value) < 2**32
