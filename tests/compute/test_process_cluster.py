"""One topology's tasks in two worker processes (``ProcessCluster``): tuples and acks
cross as bytes, every grouping keeps its meaning, and a killed worker is replaced.

Components run in spawned processes, so they report through files (append + flush
before the tuple is acked: what a sink holds survives its process being killed), and
the test reads the files afterwards. Worker processes import this module by name, so
the repository root goes on ``sys.path`` (spawned processes inherit it).
"""

from __future__ import annotations

import os
import random
import re
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from squall.compute import (
    Bolt,
    Config,
    LocalCluster,
    ProcessCluster,
    Spout,
    Topology,
    TopologyContext,
    TopologyError,
    Tuple,
)
from squall.compute.scheduler import even_assignment

ROOT = Path(__file__).parents[2]
LOG = ROOT / "tests" / "data" / "apache_logs"


@pytest.fixture(autouse=True)
def importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


def records(directory: Path, prefix: str) -> list[list[str]]:
    """Every line of the files ``prefix*`` in ``directory``, split on tabs; the file's
    name parts (after the prefix) come first."""
    rows = []
    for path in sorted(directory.glob(f"{prefix}-*")):
        head = path.name.split("-")[1:]
        with path.open(encoding="utf-8") as f:
            rows.extend([*head, *line.rstrip("\n").split("\t")] for line in f)
    return rows


class Recorder:
    """A per-task, per-process append-only file, flushed on every write."""

    def open_file(self, directory: str, prefix: str, context: TopologyContext) -> None:
        name = f"{prefix}-{context.task_id}-{context.worker_index}-{os.getpid()}"
        self.out = open(os.path.join(directory, name), "a", encoding="utf-8")  # noqa: SIM115

    def record(self, *fields: object) -> None:
        self.out.write("\t".join(map(str, fields)) + "\n")
        self.out.flush()


# -- word count -------------------------------------------------------------------------
def expected_words() -> Counter[str]:
    """Ground truth without the runtime, with a different tokeniser than the bolt's."""
    with LOG.open(encoding="utf-8") as f:
        return Counter(w for line in f for w in re.findall(r"\S+", line))


class Lines(Spout, Recorder):
    """Each line of the log, tracked by its number; failed lines are emitted again."""

    outputs = ["number", "line"]

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def open(self, context: TopologyContext) -> None:
        self.lines = LOG.read_text(encoding="utf-8").splitlines()
        self.next = 0
        self.replay: list[int] = []
        self.open_file(self.directory, "acked", context)

    def next_tuple(self) -> None:
        if self.replay:
            n = self.replay.pop()
        elif self.next < len(self.lines):
            n, self.next = self.next, self.next + 1
        else:
            return
        self.emit([n, self.lines[n]], msg_id=n)

    def ack(self, msg_id: Any) -> None:
        self.record(msg_id)

    def fail(self, msg_id: Any) -> None:
        self.replay.append(msg_id)


class SplitWords(Bolt):
    outputs = ["number", "position", "word"]

    def process(self, tup: Tuple) -> None:
        n = tup["number"]
        for position, word in enumerate(tup["line"].split()):
            self.emit([n, position, word], anchors=tup)


class WordSink(Bolt, Recorder):
    """Counts by writing each occurrence, keyed by (line, position): an idempotent sink,
    so a replayed occurrence is stored twice but counted once."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def prepare(self, context: TopologyContext) -> None:
        self.open_file(self.directory, "words", context)

    def process(self, tup: Tuple) -> None:
        self.record(tup["number"], tup["position"], tup["word"])


def word_count(directory: Path) -> Topology:
    topo = Topology("word-count")
    topo.spout("lines", Lines(str(directory)))
    topo.bolt("split", SplitWords, parallelism=2).shuffle_grouping("lines")
    sink = WordSink(str(directory))
    topo.bolt("count", sink, parallelism=4).fields_grouping("split", ["word"])
    return topo


def stored_words(directory: Path) -> tuple[dict[tuple[str, str], str], list[list[str]]]:
    """(occurrence -> word, every stored row: task, worker, pid, line, position, word)."""
    rows = records(directory, "words")
    occurrences: dict[tuple[str, str], str] = {}
    for _task, _worker, _pid, line, position, word in rows:
        assert occurrences.setdefault((line, position), word) == word
    return occurrences, rows


def test_word_count_in_two_processes_equals_a_plain_count(tmp_path: Path) -> None:
    truth = expected_words()
    topo = word_count(tmp_path)
    with ProcessCluster(Config(workers=2, max_spout_pending=500)) as cluster:
        cluster.submit(topo)
        pids = cluster.worker_pids()
        cluster.wait_idle(timeout=60)
        metrics = cluster.metrics()

    assert len(set(pids)) == 2 and os.getpid() not in pids
    occurrences, rows = stored_words(tmp_path)
    assert len(rows) == len(occurrences) == sum(truth.values())  # nothing twice
    assert Counter(occurrences.values()) == truth
    # fields grouping across processes: each word went to one task, in either worker
    owners = defaultdict(set)
    for task, worker, _pid, _line, _position, word in rows:
        owners[word].add((task, worker))
    assert all(len(o) == 1 for o in owners.values())
    assert {w for o in owners.values() for _t, w in o} == {"0", "1"}
    # every line acked exactly once, none failed
    acked = [int(r[3]) for r in records(tmp_path, "acked")]
    assert sorted(acked) == list(range(10_000))
    assert (metrics["lines"].acked, metrics["lines"].failed) == (10_000, 0)
    assert metrics["count"].executed == sum(truth.values())


SPOUT_WORKER = 0  # word_count's spout is task 1, dealt to worker 0


@pytest.mark.parametrize("killed", [1, SPOUT_WORKER])
def test_a_killed_worker_is_replaced_and_its_trees_replayed(
    tmp_path: Path, wait_until: Any, killed: int
) -> None:
    """At-least-once. Worker 1 killed: the trees that crossed it time out and the spout
    emits their lines again. The spout's worker killed: its replacement's spout starts
    from its source's beginning (this spout keeps no position). Either way the sink may
    hold an occurrence twice (stored, then its ack lost with a process), and counting
    distinct occurrences gives the exact count."""
    truth = expected_words()
    topo = word_count(tmp_path)
    assert even_assignment(topo.build(), 2)[1] == SPOUT_WORKER
    config = Config(workers=2, max_spout_pending=100, message_timeout=2)
    with ProcessCluster(config) as cluster:
        cluster.submit(topo)
        victim = cluster.worker_pids()[killed]
        wait_until(lambda: len(records(tmp_path, "acked")) >= 1000, timeout=30, what="acks")
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: cluster.restarts() == 1, timeout=30, what="a replacement")
        cluster.wait_idle(timeout=60)
        pids = cluster.worker_pids()
        metrics = cluster.metrics()

    assert victim not in pids
    acked = records(tmp_path, "acked")
    if killed == SPOUT_WORKER:  # both spouts' acks: every line at least once
        assert {int(r[3]) for r in acked} == set(range(10_000))
        assert {r[2] for r in acked} == {str(victim), str(pids[SPOUT_WORKER])}
    else:  # the spout lived: every line acked exactly once, some after a replay
        assert sorted(int(r[3]) for r in acked) == list(range(10_000))
        assert metrics["lines"].failed > 0
    occurrences, rows = stored_words(tmp_path)
    assert Counter(occurrences.values()) == truth
    assert str(victim) in {r[2] for r in rows}  # the killed worker had stored some


# -- every grouping across processes ---------------------------------------------------
N = 200
KEYS = 7
GROUPINGS = [
    "shuffle",
    "fields",
    "partial_key",
    "all",
    "global",
    "none",
    "local_or_shuffle",
    "custom",
    "direct",
]


class Numbers(Spout, Recorder):
    """Task i of 2 emits the numbers n with n % 2 == i, each as a tracked tuple on the
    default stream and, to the task of "direct" that n names, on the "direct" stream."""

    outputs = {"default": ["n", "key"], "direct": ["n", "key"]}

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def open(self, context: TopologyContext) -> None:
        self.todo = list(range(context.task_index, N, context.parallelism))
        self.direct_tasks = context.tasks_of("direct")
        self.open_file(self.directory, "acked", context)

    def next_tuple(self) -> None:
        if self.todo:
            n = self.todo.pop()
            self.emit([n, n % KEYS], msg_id=n)
            task = self.direct_tasks[n % len(self.direct_tasks)]
            self.emit_direct(task, [n, n % KEYS], msg_id=-1 - n, stream="direct")

    def ack(self, msg_id: Any) -> None:
        self.record(msg_id)

    def fail(self, msg_id: Any) -> None:
        self.record("failed", msg_id)


class Received(Bolt, Recorder):
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def prepare(self, context: TopologyContext) -> None:
        self.component = context.component
        self.open_file(self.directory, "got", context)

    def process(self, tup: Tuple) -> None:
        self.record(self.component, tup.source_task, tup["n"], tup["key"])


def by_n(target_tasks: Sequence[int], values: Sequence[Any]) -> list[int]:
    """A custom grouping (top level, so it pickles): the task that n names."""
    return [target_tasks[values[0] % len(target_tasks)]]


def test_every_grouping_keeps_its_meaning_across_processes(tmp_path: Path) -> None:
    topo = Topology("groupings")
    topo.spout("numbers", Numbers(str(tmp_path)), parallelism=2)
    for kind in GROUPINGS:
        declare = topo.bolt(kind, Received(str(tmp_path)), parallelism=2)
        if kind in ("fields", "partial_key"):
            getattr(declare, f"{kind}_grouping")("numbers", ["key"])
        elif kind == "custom":
            declare.custom_grouping("numbers", by_n)
        elif kind == "direct":
            declare.direct_grouping("numbers", stream="direct")
        else:
            getattr(declare, f"{kind}_grouping")("numbers")
    spec = topo.build()
    where = even_assignment(spec, 2)
    tasks = {c.name: c.task_ids for c in spec.components.values()}
    for name in ["numbers", *GROUPINGS]:  # every component has a task in each worker
        assert {where[t] for t in tasks[name]} == {0, 1}

    with ProcessCluster(Config(workers=2)) as cluster:
        cluster.submit(spec)
        cluster.wait_idle(timeout=60)

    got: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
    for task, worker, _pid, kind, source, n, key in records(tmp_path, "got"):
        assert where[int(task)] == int(worker)  # each task ran where it was placed
        got[kind].append((int(task), int(source), int(n), int(key)))
    everything = list(range(N))
    for kind in GROUPINGS:
        if kind != "all":
            assert sorted(n for _t, _s, n, _k in got[kind]) == everything, kind
    # shuffle and none spread over both workers' tasks; shuffle crosses processes
    for kind in ("shuffle", "none"):
        assert {t for t, _s, _n, _k in got[kind]} == set(tasks[kind]), kind
    assert any(where[t] != where[s] for t, s, _n, _k in got["shuffle"])
    # fields: a key goes to one task; partial_key: to at most two
    for kind, most in (("fields", 1), ("partial_key", 2)):
        owners = defaultdict(set)
        for t, _s, _n, k in got[kind]:
            owners[k].add(t)
        assert len(owners) == KEYS and all(len(o) <= most for o in owners.values()), kind
    assert {t for t, *_ in got["fields"]} == set(tasks["fields"])
    # all: every task, in both workers, gets every tuple
    assert sorted((t, n) for t, _s, n, _k in got["all"]) == sorted(
        (t, n) for t in tasks["all"] for n in everything
    )
    # global: the lowest task id only
    assert {t for t, *_ in got["global"]} == {min(tasks["global"])}
    # local_or_shuffle: the receiving task runs in the emitting task's worker
    assert all(where[t] == where[s] for t, s, _n, _k in got["local_or_shuffle"])
    # custom and direct: the task that n names
    for kind in ("custom", "direct"):
        assert all(t == tasks[kind][n % 2] for t, _s, n, _k in got[kind]), kind
    # every tree acked exactly once: both streams' msg ids, none failed
    acked = sorted(int(r[3]) for r in records(tmp_path, "acked"))
    assert acked == sorted([*everything, *(-1 - n for n in everything)])


# -- a random acking tree across processes -----------------------------------------------
ROOTS = 300
DEPTH = 2


def fan_out(path: str) -> int:
    """How many children the tuple at ``path`` has: random, seeded by the path."""
    return random.Random(path).randint(0, 3)


def leaves() -> Counter[str]:
    """Paths of the tuples at depth DEPTH, computed without the runtime."""
    level = [str(r) for r in range(ROOTS)]
    for _ in range(DEPTH):
        level = [f"{p}.{c}" for p in level for c in range(fan_out(p))]
    return Counter(level)


class Roots(Spout, Recorder):
    outputs = ["path"]

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def open(self, context: TopologyContext) -> None:
        self.todo = list(range(context.task_index, ROOTS, context.parallelism))
        self.open_file(self.directory, "acked", context)

    def next_tuple(self) -> None:
        if self.todo:
            root = self.todo.pop()
            self.emit([str(root)], msg_id=root)

    def ack(self, msg_id: Any) -> None:
        self.record(msg_id)

    def fail(self, msg_id: Any) -> None:
        self.record("failed", msg_id)


class Grow(Bolt):
    """Emits the tuple's random number of children, each anchored to it."""

    outputs = ["path"]

    def process(self, tup: Tuple) -> None:
        path = tup["path"]
        for c in range(fan_out(path)):
            self.emit([f"{path}.{c}"], anchors=tup)


class Pair(Bolt):
    """Joins tuples two by two, whatever their roots: each output is anchored to both
    inputs (so one tuple belongs to two trees, often owned by different workers), and
    both are acked after it is emitted. A tuple left alone is sent on at the next tick."""

    outputs = ["first", "second"]
    auto_ack = False
    tick_seconds = 0.05

    def prepare(self, context: TopologyContext) -> None:
        self.held: Tuple | None = None

    def process(self, tup: Tuple) -> None:
        if self.held is None:
            self.held = tup
            return
        self.emit([self.held["path"], tup["path"]], anchors=[self.held, tup])
        self.ack(self.held)
        self.ack(tup)
        self.held = None

    def process_tick(self) -> None:
        if self.held is not None:
            self.emit([self.held["path"], ""], anchors=self.held)
            self.ack(self.held)
            self.held = None


class Leaves(Bolt, Recorder):
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def prepare(self, context: TopologyContext) -> None:
        self.open_file(self.directory, "leaves", context)

    def process(self, tup: Tuple) -> None:
        for path in tup.values:
            if path:
                self.record(path)


def test_a_random_acking_tree_across_processes_completes_once(tmp_path: Path) -> None:
    topo = Topology("random-tree")
    topo.spout("roots", Roots(str(tmp_path)), parallelism=2)
    topo.bolt("grow1", Grow, parallelism=3).shuffle_grouping("roots")
    topo.bolt("grow2", Grow, parallelism=3).fields_grouping("grow1", ["path"])
    topo.bolt("pair", Pair, parallelism=3).none_grouping("grow2")
    topo.bolt("leaves", Leaves(str(tmp_path)), parallelism=2).shuffle_grouping("pair")
    expected = leaves()
    assert sum(expected.values()) > ROOTS  # the trees do branch

    with ProcessCluster(Config(workers=2, message_timeout=30)) as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=60)
        metrics = cluster.metrics()

    # every root's tree, rooted in either worker, completed exactly once
    acked = [r[3] for r in records(tmp_path, "acked")]
    assert sorted(map(int, acked)) == list(range(ROOTS))
    assert {r[1] for r in records(tmp_path, "acked")} == {"0", "1"}
    assert Counter(r[3] for r in records(tmp_path, "leaves")) == expected
    assert metrics["pair"].executed == sum(expected.values())


# -- what cannot cross to a worker process ------------------------------------------------
def test_a_component_that_does_not_pickle_is_refused_with_what_to_do(tmp_path: Path) -> None:
    class Local(Bolt):  # defined in a function: a worker process cannot import it
        def process(self, tup: Tuple) -> None:
            pass

    topo = Topology("unpicklable")
    topo.spout("roots", Roots(str(tmp_path)))
    topo.bolt("local", Local).shuffle_grouping("roots")
    with ProcessCluster(Config(workers=2)) as cluster:
        with pytest.raises(TopologyError, match=r"'local' cannot be sent.*top level"):
            cluster.submit(topo)
        assert cluster.topologies == []


def test_a_worker_that_cannot_import_a_component_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(ROOT)])
    topo = word_count(tmp_path)  # its classes live in tests.compute.test_process_cluster
    with ProcessCluster(Config(workers=2)) as cluster:
        with pytest.raises(TopologyError, match=r"could not load.*'tests'.*top level of a module"):
            cluster.submit(topo)
        assert cluster.topologies == []


def test_checkpoints_need_every_task_in_one_worker(tmp_path: Path) -> None:
    with (
        ProcessCluster(Config(workers=2, checkpoint_interval=1.0)) as cluster,
        pytest.raises(TopologyError, match=r"checkpoint_interval.*partition-local"),
    ):
        cluster.submit(word_count(tmp_path))


def test_several_workers_need_a_process_cluster() -> None:
    topo = Topology("one-process")
    topo.spout("roots", Roots("."))
    with (
        LocalCluster(Config(workers=2)) as cluster,
        pytest.raises(TopologyError, match="use ProcessCluster"),
    ):
        cluster.submit(topo)
