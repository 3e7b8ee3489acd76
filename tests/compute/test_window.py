"""Window semantics of compute.window: what each firing holds, when it fires, and
when the spout hears ``ack``/``fail``.

Every expectation is computed here from the input (counts, timestamps), never read
back from the implementation. Components record on the worker thread, in one shared
event list, so the list's order is the order things happened; the test reads it after
``wait_idle`` or after polling a condition with a deadline.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from squall.compute import (
    Bolt,
    ComputeError,
    Config,
    FailedException,
    LocalCluster,
    Spout,
    Topology,
    TopologyContext,
    TopologyError,
    Tuple,
    TupleWindow,
    WindowedBolt,
    WindowSpec,
    sliding,
    tumbling,
)

FAR = 1e12  # an end-of-input timestamp: pushes the watermark past every real window
BASE = 1_700_000_000.0  # a multiple of every slide used below (epoch-aligned windows)


# -- recording ---------------------------------------------------------------------------
@dataclass
class Firing:
    ids: list[Any]
    new: list[Any]
    expired: list[Any]
    start: float | None
    end: float | None
    at: float  # wall clock (time.time()) when process_window ran


@dataclass
class Run:
    """What one topology run did, in order (all appends happen on the worker thread)."""

    events: list[tuple[str, Any]] = field(default_factory=list)
    firings: list[Firing] = field(default_factory=list)
    acked: list[Any] = field(default_factory=list)
    failed: list[Any] = field(default_factory=list)
    late: list[Tuple] = field(default_factory=list)
    received: list[Tuple] = field(default_factory=list)  # by the downstream bolt
    ticks: int = 0

    def at(self, kind: str, what: Any) -> int:
        return self.events.index((kind, what))

    def windows(self) -> list[tuple[float | None, float | None, list[Any]]]:
        return [(f.start, f.end, sorted(f.ids)) for f in self.firings]


# -- components --------------------------------------------------------------------------
@dataclass
class Item:
    id: Any
    ts: Any = None
    tracked: bool = True
    stream: str = "default"
    not_before: float = 0.0  # wall clock; paces processing-time tests on the clock


Gate = Callable[[], bool]


class Script(Spout):
    """Emits its steps in order; a step waits until its gate (if any) is true."""

    outputs = {"default": ["id", "ts"], "other": ["id", "ts"]}

    def __init__(
        self, run: Run, steps: Sequence[tuple[Gate | None, Sequence[Item]]], replay: bool = False
    ) -> None:
        self.run = run
        self.steps = list(steps)
        self.step = 0
        self.pos = 0
        self.calls = 0
        self.replay = replay
        self.queue: list[Item] = []
        self.items: dict[Any, Item] = {}
        self.emitted_at: dict[Any, float] = {}

    def _emit(self, item: Item) -> None:
        self.items[item.id] = item
        self.emitted_at[item.id] = time.time()
        self.emit([item.id, item.ts], msg_id=item.id if item.tracked else None, stream=item.stream)

    def next_tuple(self) -> None:
        self.calls += 1
        while self.queue:
            self._emit(self.queue.pop(0))
        while self.step < len(self.steps):
            gate, items = self.steps[self.step]
            if gate is not None and not gate():
                return
            while self.pos < len(items):
                item = items[self.pos]
                if item.not_before and time.time() < item.not_before:
                    return
                self._emit(item)
                self.pos += 1
            self.step += 1
            self.pos = 0

    def ack(self, msg_id: Any) -> None:
        self.run.events.append(("ack", msg_id))
        self.run.acked.append(msg_id)

    def fail(self, msg_id: Any) -> None:
        self.run.events.append(("fail", msg_id))
        self.run.failed.append(msg_id)
        if self.replay:
            self.queue.append(self.items[msg_id])


def collector(
    run: Run,
    spec: WindowSpec,
    *,
    ts_field: str | None = None,
    allowed_lag: float = 0.0,
    interval: float = 0.02,
    emit: bool = False,
    explode: Callable[[list[Any]], bool] | None = None,
) -> type[WindowedBolt]:
    """A windowed bolt recording each firing; optionally emits the window's ids, or
    raises in process_window when ``explode(ids)`` is true."""

    class Collect(WindowedBolt):
        window = spec
        timestamp_field = ts_field
        lag = allowed_lag
        watermark_interval = interval
        outputs = ["ids"] if emit else []

        def process_tick(self) -> None:
            super().process_tick()
            run.ticks += 1

        def process_window(self, w: TupleWindow) -> None:
            ids = [t["id"] for t in w.tuples]
            if explode is not None and explode(ids):
                run.events.append(("boom", tuple(ids)))
                raise RuntimeError("window exploded on purpose")
            run.firings.append(
                Firing(
                    ids,
                    [t["id"] for t in w.new],
                    [t["id"] for t in w.expired],
                    w.start,
                    w.end,
                    time.time(),
                )
            )
            run.events.append(("fire", len(run.firings) - 1))
            if emit:
                self.emit([tuple(ids)])

    return Collect


class Sink(Bolt):
    """Records what it receives; acks it, fails it (``fail_if``), or holds it until
    ``release`` is set (then acks on its next tick)."""

    auto_ack = False
    tick_seconds = 0.005

    def __init__(
        self,
        run: Run,
        fail_if: Callable[[Tuple], bool] | None = None,
        release: threading.Event | None = None,
    ) -> None:
        self.run = run
        self.fail_if = fail_if
        self.release = release
        self.held: list[Tuple] = []

    def process(self, tup: Tuple) -> None:
        self.run.received.append(tup)
        if tup.stream == "late":
            self.run.late.append(tup)
        if self.fail_if is not None and self.fail_if(tup):
            raise FailedException("failed on purpose")
        if self.release is not None:
            self.held.append(tup)
        else:
            self.ack(tup)

    def process_tick(self) -> None:
        if self.release is not None and self.release.is_set():
            for tup in self.held:
                self.ack(tup)
            self.held.clear()


# -- running -----------------------------------------------------------------------------
def wait_until(cond: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.002)  # polling interval of the check, not synchronisation


def wait_rounds(spout: Script, rounds: int = 5) -> None:
    """Let ``rounds`` more scheduling rounds pass (the spout is called once per round),
    so that anything already due (acks, firings) has been delivered."""
    seen = spout.calls
    wait_until(lambda: spout.calls >= seen + rounds, what=f"{rounds} more rounds")


@contextmanager
def running(topo: Topology, config: Config | None = None) -> Iterator[LocalCluster]:
    with LocalCluster(config or Config(message_timeout=60)) as cluster:
        cluster.submit(topo)
        yield cluster


def topology(
    spout: Script,
    bolt: type[WindowedBolt],
    sink: Sink | None = None,
    sink_stream: str = "default",
    streams: Sequence[str] = ("default",),
) -> Topology:
    topo = Topology("windows")
    topo.spout("spout", lambda: spout)
    declarer = topo.bolt("window", bolt)
    for stream in streams:
        declarer.shuffle_grouping("spout", stream=stream)
    if sink is not None:
        topo.bolt("sink", lambda: sink).shuffle_grouping("window", stream=sink_stream)
    return topo


def expected_time_windows(
    stamps: dict[Any, float], length: float, every: float
) -> list[tuple[float, float, list[Any]]]:
    """Non-empty windows [end - length, end) with end a multiple of ``every``, by end."""
    members: dict[float, list[Any]] = {}
    for tid, ts in stamps.items():
        # ends e = k*every with ts < e <= ts + length
        for k in range(math.floor(ts / every) + 1, math.floor((ts + length) / every) + 1):
            members.setdefault(k * every, []).append(tid)
    return [(end - length, end, sorted(members[end])) for end in sorted(members)]


# -- window specs ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: tumbling(), "exactly one"),
        (lambda: tumbling(count=5, seconds=5), "exactly one"),
        (lambda: sliding(every=1), "exactly one"),
        (lambda: sliding(count=5, seconds=5.0, every=1), "exactly one"),
        (lambda: sliding(count=5, every=6), "cannot exceed"),
        (lambda: sliding(seconds=1.0, every=1.5), "cannot exceed"),
        (lambda: tumbling(count=2.5), "whole numbers"),  # type: ignore[arg-type]
        (lambda: sliding(count=6, every=1.5), "whole numbers"),
        (lambda: tumbling(count=0), "> 0"),
        (lambda: tumbling(seconds=-1.0), "> 0"),
        (lambda: sliding(count=5, every=0), "> 0"),
        (lambda: sliding(count=5, every=None), "> 0"),
    ],
)
def test_invalid_window_specs_are_refused(make: Callable[[], WindowSpec], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        make()


def test_valid_window_specs() -> None:
    assert tumbling(count=3) == WindowSpec(3.0, 3.0, by_count=True)
    assert sliding(count=5, every=2) == WindowSpec(5.0, 2.0, by_count=True)
    assert tumbling(seconds=60) == WindowSpec(60.0, 60.0, by_count=False)
    assert sliding(seconds=60, every=10) == WindowSpec(60.0, 10.0, by_count=False)


def test_count_window_with_timestamp_field_is_refused_at_class_definition() -> None:
    with pytest.raises(TopologyError, match="count windows"):

        class _Bad(WindowedBolt):
            window = tumbling(count=10)
            timestamp_field = "ts"


def test_window_must_come_from_tumbling_or_sliding() -> None:
    with pytest.raises(TopologyError, match=r"tumbling\(\) or sliding\(\)"):

        class _Bad(WindowedBolt):
            window = (10, 10)  # type: ignore[assignment]


def test_windowed_bolt_declares_the_late_stream_next_to_its_own() -> None:
    class Routes(WindowedBolt):
        window = tumbling(count=2)
        outputs = ["route", "hits"]

    class Quiet(WindowedBolt):
        window = tumbling(count=2)

    assert Routes.outputs == {"default": ["route", "hits"], "late": ["late_tuple"]}
    assert Quiet.outputs == {"late": ["late_tuple"]}


# -- count windows -----------------------------------------------------------------------
def test_count_tumbling_windows_partition_the_stream_in_order() -> None:
    run, n, size = Run(), 22, 4
    spout = Script(run, [(None, [Item(i) for i in range(n)])])
    with running(topology(spout, collector(run, tumbling(count=size)))):
        full = n // size * size  # the 2 trailing tuples never fill a window
        wait_until(lambda: len(run.acked) >= full, what=f"{full} acks")
        wait_rounds(spout)

    expected = [list(range(k, k + size)) for k in range(0, full, size)]
    assert [f.ids for f in run.firings] == expected  # arrival order kept, exactly N each
    assert [f.new for f in run.firings] == expected
    assert [f.expired for f in run.firings] == [[], *expected[:-1]]
    assert all(f.start is None and f.end is None for f in run.firings)
    # every tuple of a window is acked right after it, the unfinished tail is not
    assert sorted(run.acked) == list(range(full)) and run.failed == []
    for i in range(full):
        assert run.at("ack", i) > run.at("fire", i // size)


@pytest.mark.parametrize(("count", "every"), [(5, 2), (3, 1), (6, 3), (4, 4)])
def test_count_sliding_windows_hold_the_last_count_tuples(count: int, every: int) -> None:
    run, n = Run(), 20
    spout = Script(run, [(None, [Item(i) for i in range(n)])])
    fire_at = list(range(every, n + 1, every))  # arrival counts at which a window fires
    # after the last firing, the next one would hold [last + every - count, ...): every
    # tuple before that is in no later window, and only those can have been acked
    done = fire_at[-1] + every - count
    with running(topology(spout, collector(run, sliding(count=count, every=every)))):
        wait_until(lambda: len(run.firings) == len(fire_at), what="all firings")
        wait_until(lambda: len(run.acked) >= done, what=f"{done} acks")
        wait_rounds(spout)

    expected = [list(range(max(0, a - count), a)) for a in fire_at]
    assert [f.ids for f in run.firings] == expected
    previous: list[int] = []
    for f, ids in zip(run.firings, expected, strict=True):
        assert f.new == [i for i in ids if i not in previous]
        assert f.expired == [i for i in previous if i not in ids]
        previous = ids
    assert sorted(run.acked) == list(range(done)) and run.failed == []
    for i in range(done):
        last = max(k for k, ids in enumerate(expected) if i in ids)
        assert run.at("ack", i) > run.at("fire", last), f"tuple {i} acked before window {last}"


# -- event-time windows ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("length", "every", "disorder"),
    [(10.0, 10.0, 0.0), (10.0, 5.0, 0.0), (10.0, 3.0, 0.0), (2.5, 0.5, 0.0), (10.0, 5.0, 4.0)],
)
def test_event_time_windows_match_ground_truth(
    length: float, every: float, disorder: float
) -> None:
    """With ``disorder`` > 0, tuples arrive shuffled within spans of ``disorder`` seconds
    and the lag is ``disorder``: no tuple is then ever below the watermark, whenever it
    ticks, so every one must land in its own windows even when it arrives late."""
    rng = random.Random(f"{length}/{every}/{disorder}")
    start = BASE + 3.0  # not itself a window boundary
    stamps = sorted({start + rng.randrange(0, 200) * 0.25 for _ in range(120)})
    # make sure exact window boundaries occur: [start, end) takes a tuple at start
    first_edge = math.ceil(start / every) * every
    stamps = sorted(set(stamps) | {first_edge + k * every for k in range(4)})
    # and a gap of many windows: the empty ones in between are skipped
    stamps += [start + 300 + k * 0.75 for k in range(5)]
    by_id = dict(enumerate(stamps))
    order = list(by_id)
    if disorder:
        spans: dict[int, list[int]] = {}
        for i in order:
            spans.setdefault(math.floor((by_id[i] - start) / disorder), []).append(i)
        order = []
        for span in sorted(spans):
            rng.shuffle(spans[span])
            order += spans[span]
        assert order != sorted(order)
    items = [Item(i, by_id[i]) for i in order] + [Item("end", FAR, tracked=False)]
    run = Run()
    spout = Script(run, [(None, items)])
    spec = sliding(seconds=length, every=every)
    bolt = collector(run, spec, ts_field="ts", allowed_lag=disorder, emit=True)
    sink = Sink(run)  # downstream acks the emitted windows: their trees must balance
    with running(topology(spout, bolt, sink)) as cluster:
        cluster.wait_idle(timeout=5)

    expected = expected_time_windows(by_id, length, every)
    assert run.windows() == expected
    previous: set[Any] = set()
    for f in run.firings:
        assert set(f.new) == set(f.ids) - previous
        assert set(f.expired) == previous - set(f.ids)
        previous = set(f.ids)
    assert sorted(run.acked) == sorted(by_id) and run.failed == []
    assert [tuple(sorted(t["ids"])) for t in run.received] == [tuple(w[2]) for w in expected]
    # an ack only after the last window holding the tuple fired
    for tid in by_id:
        last = max(k for k, w in enumerate(expected) if tid in w[2])
        assert run.at("ack", tid) > run.at("fire", last), f"tuple {tid} acked too early"


def test_datetime_timestamps_are_event_time() -> None:
    stamps = {i: BASE + 7.5 * i for i in range(8)}  # 0 .. 52.5 s after BASE
    items = [Item(i, datetime.fromtimestamp(ts, UTC)) for i, ts in stamps.items()]
    items.append(Item("end", datetime.fromtimestamp(BASE + 1e6, UTC), tracked=False))
    run = Run()
    spout = Script(run, [(None, items)])
    with running(topology(spout, collector(run, tumbling(seconds=20), ts_field="ts"))) as cluster:
        cluster.wait_idle(timeout=5)
    assert run.windows() == expected_time_windows(stamps, 20.0, 20.0)
    assert sorted(run.acked) == list(stamps)


def test_out_of_order_within_lag_is_kept_and_older_than_watermark_is_late() -> None:
    run = Run()
    ts = {
        "a": BASE + 1,
        "b": BASE + 5,
        "c": BASE + 11,
        "d": BASE + 23,  # watermark -> 23 - lag 2 = 21: fires [0,10) and [10,20)
        "e": BASE + 21.5,  # out of order but >= 21: joins [20,30)
        "f": BASE + 20.5,  # its window has not fired, but it is below the watermark: late
        "g": BASE + 19.9,  # its window already fired: late
        "h": BASE + 21,  # at the watermark, not below it: joins [20,30)
    }
    first = [Item(k, ts[k]) for k in "abcd"]
    second = [Item(k, ts[k]) for k in "efgh"] + [Item("end", FAR, tracked=False)]
    # the second batch waits until [10,20) fired, i.e. the watermark is at 21
    spout = Script(
        run,
        [(None, first), (lambda: any(f.end == BASE + 20 for f in run.firings), second)],
    )
    bolt = collector(run, tumbling(seconds=10), ts_field="ts", allowed_lag=2.0)
    with running(topology(spout, bolt, Sink(run), sink_stream="late")) as cluster:
        cluster.wait_idle(timeout=5)

    assert run.windows() == [
        (BASE, BASE + 10, ["a", "b"]),
        (BASE + 10, BASE + 20, ["c"]),
        (BASE + 20, BASE + 30, ["d", "e", "h"]),
    ]
    late = sorted(t["late_tuple"]["id"] for t in run.late)
    assert late == ["f", "g"]
    assert all(t.fields == ("late_tuple",) and isinstance(t["late_tuple"], Tuple) for t in run.late)
    assert sorted(run.acked) == sorted(ts) and run.failed == []  # late tuples are acked too


def test_watermark_is_the_slowest_input_stream() -> None:
    run = Run()
    go_default, go_other = threading.Event(), threading.Event()
    spout = Script(
        run,
        [
            (None, [Item(1, BASE + 1), Item(12, BASE + 12), Item(55, BASE + 55)]),
            (None, [Item(i, BASE + i, stream="other") for i in (2, 14, 20)]),
            (go_other.is_set, [Item("o-end", FAR, tracked=False, stream="other")]),
            (go_default.is_set, [Item("d-end", FAR, tracked=False)]),
        ],
    )
    bolt = collector(run, tumbling(seconds=10), ts_field="ts")
    with running(topology(spout, bolt, streams=("default", "other"))) as cluster:
        # watermark = min(55, 20) = 20: it reaches the end of [10,20), not of [20,30)
        wait_until(lambda: len(run.firings) >= 2, what="two windows")
        ticks = run.ticks
        wait_until(lambda: run.ticks >= ticks + 3, what="3 more watermark ticks")
        assert run.windows() == [(BASE, BASE + 10, [1, 2]), (BASE + 10, BASE + 20, [12, 14])]
        # the slow stream catches up: watermark = min(55, FAR) = 55 -> [20,30) only
        go_other.set()
        wait_until(lambda: len(run.firings) >= 3, what="third window")
        ticks = run.ticks
        wait_until(lambda: run.ticks >= ticks + 3, what="3 more watermark ticks")
        assert run.windows()[2:] == [(BASE + 20, BASE + 30, [20])]
        go_default.set()
        cluster.wait_idle(timeout=5)
    assert run.windows()[3:] == [(BASE + 50, BASE + 60, [55])]
    assert sorted(run.acked) == [1, 2, 12, 14, 20, 55]


# -- processing-time windows -------------------------------------------------------------
@pytest.mark.parametrize("spec", [tumbling(seconds=0.2), sliding(seconds=0.4, every=0.2)])
def test_processing_time_windows_fire_on_the_clock(spec: WindowSpec) -> None:
    run, n, gap = Run(), 16, 0.03
    t0 = time.time() + 0.05
    spout = Script(run, [(None, [Item(i, not_before=t0 + i * gap) for i in range(n)])])
    with running(topology(spout, collector(run, spec))):
        # not wait_idle: the cluster is idle between paced emits
        wait_until(lambda: len(run.acked) == n, what=f"{n} acks")
        wait_rounds(spout)

    arrived = spout.emitted_at  # the bolt sees a tuple just after its emit, same round
    slack = 0.06  # emit-to-arrival delay allowed (same round; more under CPU load)
    assert len(run.firings) >= 2
    for f in run.firings:
        assert f.start is not None and f.end is not None
        assert f.end - f.start == pytest.approx(spec.length)
        assert f.end / spec.every == pytest.approx(round(f.end / spec.every))  # aligned
        assert f.end <= f.at < f.end + 0.5  # once its end passed (ticks are 0.1 s)
        for i in f.ids:
            assert f.start - slack <= arrived[i] < f.end
        for i, t in arrived.items():  # what clearly arrived inside it, it holds
            if f.start + slack <= t < f.end - slack:
                assert i in f.ids
    ends = [f.end for f in run.firings if f.end is not None]
    assert ends == sorted(ends)
    per_tuple = {i: sum(i in f.ids for f in run.firings) for i in range(n)}
    most = int(spec.length / spec.every)
    assert all(1 <= k <= most for k in per_tuple.values()), per_tuple
    if spec.length == spec.every:
        assert [i for f in run.firings for i in f.ids] == list(range(n))  # a partition
    assert sorted(run.acked) == list(range(n)) and run.failed == []
    for i in range(n):
        last = max(k for k, f in enumerate(run.firings) if i in f.ids)
        assert run.at("ack", i) > run.at("fire", last)


# -- failures ----------------------------------------------------------------------------
def test_exception_in_count_window_fails_its_tuples_and_replays_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = Run()
    exploded: list[list[Any]] = []

    def explode(ids: list[Any]) -> bool:
        if 4 in ids and not exploded:
            exploded.append(ids)
            return True
        return False

    spout = Script(run, [(None, [Item(i) for i in range(12)])], replay=True)
    with running(topology(spout, collector(run, tumbling(count=3), explode=explode))) as cluster:
        cluster.wait_idle(timeout=5)

    assert exploded == [[3, 4, 5]]
    assert sorted(run.failed) == [3, 4, 5]
    # the topology went on: later windows fired, and the replays formed a window of their own
    assert [f.ids for f in run.firings] == [[0, 1, 2], [6, 7, 8], [9, 10, 11], [3, 4, 5]]
    assert sorted(run.acked) == list(range(12))
    for i in (3, 4, 5):
        assert run.at("fail", i) < run.at("ack", i)  # the ack is the replay's
    assert "process_window" in caplog.text


def test_exception_in_time_window_fails_exactly_the_tuples_it_held() -> None:
    run = Run()
    stamps = {i: BASE + 0.5 * i for i in range(40)}  # 0 .. 19.5 s
    items = [Item(i, ts) for i, ts in stamps.items()] + [Item("end", FAR, tracked=False)]
    spout = Script(run, [(None, items)])

    def explode(ids: list[Any]) -> bool:
        return min(stamps[i] for i in ids) == BASE + 5  # the window [5, 15)

    bolt = collector(run, sliding(seconds=10, every=5), ts_field="ts", explode=explode)
    bad = {i for i, ts in stamps.items() if BASE + 5 <= ts < BASE + 15}
    with running(topology(spout, bolt)) as cluster:
        cluster.wait_idle(timeout=5)
        window = cluster.metrics()["window"]
    assert set(run.failed) == bad and len(run.failed) == len(bad)  # each failed once
    assert set(run.acked) == set(stamps) - bad and len(run.acked) == len(stamps) - len(bad)
    # the bolt itself settled each tuple once: a failed one is never acked later
    assert (window.failed, window.acked) == (len(bad), len(stamps) - len(bad))
    assert [(s, e) for s, e, _ in run.windows()] == [
        (BASE - 5, BASE + 5),
        (BASE, BASE + 10),
        (BASE + 10, BASE + 20),
        (BASE + 15, BASE + 25),
    ]


# -- anchoring ---------------------------------------------------------------------------
def test_window_emits_are_anchored_to_the_window_tuples() -> None:
    run, release = Run(), threading.Event()
    spout = Script(run, [(None, [Item(i) for i in range(6)])])
    sink = Sink(run, release=release)
    with running(topology(spout, collector(run, tumbling(count=3), emit=True), sink)) as cluster:
        wait_until(lambda: len(sink.held) == 2, what="both windows' emits downstream")
        wait_rounds(spout)
        assert run.acked == []  # the windowed bolt is done, but downstream is not
        release.set()
        cluster.wait_idle(timeout=5)
    assert sorted(run.acked) == list(range(6))
    assert min(run.at("ack", i) for i in range(6)) > max(run.at("fire", k) for k in (0, 1))


def test_downstream_failure_of_a_window_emit_fails_that_window_only() -> None:
    run = Run()
    spout = Script(run, [(None, [Item(i) for i in range(9)])])
    sink = Sink(run, fail_if=lambda t: 4 in t["ids"])
    with running(topology(spout, collector(run, tumbling(count=3), emit=True), sink)) as cluster:
        cluster.wait_idle(timeout=5)
    assert sorted(run.failed) == [3, 4, 5]
    assert sorted(run.acked) == [0, 1, 2, 6, 7, 8]


def test_explicit_empty_anchors_leave_the_emit_untracked() -> None:
    run, never = Run(), threading.Event()

    class Unanchored(WindowedBolt):
        window = tumbling(count=3)
        outputs = ["ids"]

        def process_window(self, w: TupleWindow) -> None:
            self.emit([tuple(t["id"] for t in w.tuples)], anchors=[])

    spout = Script(run, [(None, [Item(i) for i in range(3)])])
    sink = Sink(run, release=never)  # holds the emit forever
    with running(topology(spout, Unanchored, sink)) as cluster:
        cluster.wait_idle(timeout=5)
    assert [t["ids"] for t in sink.held] == [(0, 1, 2)]
    assert sorted(run.acked) == [0, 1, 2]


def test_emit_direct_from_a_window_is_anchored_too() -> None:
    run = Run()

    class Direct(WindowedBolt):
        window = tumbling(count=2)
        outputs = ["ids"]

        def prepare(self, context: TopologyContext) -> None:
            super().prepare(context)
            self.target = context.tasks_of("sink")[0]

        def process_window(self, w: TupleWindow) -> None:
            self.emit_direct(self.target, [tuple(t["id"] for t in w.tuples)])

    spout = Script(run, [(None, [Item(i) for i in range(4)])])
    topo = Topology("windows")
    topo.spout("spout", lambda: spout)
    topo.bolt("window", Direct).shuffle_grouping("spout")
    sink = Sink(run, fail_if=lambda t: 2 in t["ids"])
    topo.bolt("sink", lambda: sink).direct_grouping("window")
    with running(topo) as cluster:
        cluster.wait_idle(timeout=5)
    assert [t["ids"] for t in run.received] == [(0, 1), (2, 3)]
    assert sorted(run.failed) == [2, 3]
    assert sorted(run.acked) == [0, 1]


# -- message timeout ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "lag", "config", "ok"),
    [
        (tumbling(seconds=4), 1.0, Config(message_timeout=5), False),  # 4 + 1 >= 5
        (tumbling(seconds=4), 0.5, Config(message_timeout=5), True),
        (sliding(seconds=5, every=1), 0.0, Config(message_timeout=5), False),
        (tumbling(seconds=4), 1.0, Config(message_timeout=5, acking=False), True),
        (tumbling(count=100_000), 0.0, Config(message_timeout=1), True),  # counts, not s
    ],
)
def test_window_must_fit_in_the_message_timeout(
    spec: WindowSpec, lag: float, config: Config, ok: bool
) -> None:
    run = Run()
    bolt = collector(run, spec, ts_field=None if spec.by_count else "ts", allowed_lag=lag)
    topo = topology(Script(run, []), bolt)
    with LocalCluster(config) as cluster:
        if ok:
            cluster.submit(topo)
            assert cluster.topologies == ["windows"]
            return
        with pytest.raises(ComputeError) as raised:
            cluster.submit(topo)
        assert cluster.topologies == []
    chain = [raised.value, raised.value.__cause__]
    errors = [e for e in chain if isinstance(e, TopologyError)]
    assert errors, f"no TopologyError in {chain!r}"
    assert "message_timeout" in str(errors[0])
