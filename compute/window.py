"""Windowed bolts: tumbling and sliding windows, by count or by time.

Declare the window on the class and implement ``process_window``::

    class Busiest(WindowedBolt):
        outputs = ["route", "hits"]
        window = sliding(seconds=60, every=10)
        timestamp_field = "ts"          # event time (epoch seconds); omit for arrival time
        lag = 5.0                       # allowed lateness, seconds

        def process_window(self, window):
            ...  # window.tuples, window.new, window.expired, window.start, window.end

Semantics (Storm's, with windows aligned to epoch multiples of the slide so that a
60 s tumbling window is a calendar minute):

* count windows fire every ``every`` tuples over the last ``count`` tuples, in arrival order;
* time windows are ``[start, end)``; event-time windows fire once the watermark (the
  smallest, over input streams, of the largest timestamp seen, minus ``lag``, advanced
  every ``watermark_interval`` seconds) reaches ``end``; processing-time windows fire
  on the clock. Empty windows are skipped;
* a tuple whose timestamp is below the current watermark is late: it is emitted on
  the ``late`` stream (one field, ``late_tuple``, holding the Tuple) and acked;
* a tuple is acked once every window that contains it has been processed; if
  ``process_window`` raises, the window's tuples fail (and their spouts replay them);
* emits from ``process_window`` are anchored to the window's tuples unless you pass
  ``anchors``.

With acking on, a tuple waits in the window, so ``Config.message_timeout`` must exceed
the window length plus the lag; ``prepare`` checks this.
"""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from squall.compute.bolt import Bolt
from squall.compute.context import TopologyContext
from squall.compute.exceptions import TopologyError
from squall.compute.tuple import Tuple

__all__ = ["TupleWindow", "WindowSpec", "WindowedBolt", "sliding", "tumbling"]

LATE_STREAM = "late"
LATE_FIELD = "late_tuple"


@dataclass(frozen=True)
class WindowSpec:
    """Window length and slide, in tuples (``by_count``) or in seconds."""

    length: float
    every: float
    by_count: bool


def tumbling(*, count: int | None = None, seconds: float | None = None) -> WindowSpec:
    """Back-to-back windows of ``count`` tuples or ``seconds`` seconds."""
    return sliding(count=count, seconds=seconds, every=count if count is not None else seconds)


def sliding(
    *, count: int | None = None, seconds: float | None = None, every: float | None
) -> WindowSpec:
    """Windows of ``count`` tuples or ``seconds`` seconds, one every ``every`` (same unit)."""
    if (count is None) == (seconds is None):
        raise TopologyError("a window needs exactly one of count= or seconds=")
    length = float(count if count is not None else seconds)  # type: ignore[arg-type]
    if every is None or every <= 0 or length <= 0:
        raise TopologyError(f"window length and slide must be > 0 (got {length}, {every})")
    if every > length:
        raise TopologyError(f"the slide ({every}) cannot exceed the window length ({length})")
    if count is not None and (int(count) != count or int(every) != every):
        raise TopologyError("count windows take whole numbers of tuples")
    return WindowSpec(length, float(every), count is not None)


@dataclass
class TupleWindow:
    """One firing of a window. ``start``/``end`` are epoch seconds (None for count
    windows); ``new`` are the tuples not in the previous firing, ``expired`` those of
    the previous firing that left."""

    tuples: list[Tuple]
    new: list[Tuple]
    expired: list[Tuple]
    start: float | None
    end: float | None


class WindowedBolt(Bolt):
    """A bolt that sees windows of tuples instead of single tuples."""

    window: ClassVar[WindowSpec]
    timestamp_field: ClassVar[str | None] = None
    lag: ClassVar[float] = 0.0
    watermark_interval: ClassVar[float] = 1.0
    auto_ack: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = getattr(cls, "window", None)
        if spec is None:
            return
        if not isinstance(spec, WindowSpec):
            raise TopologyError(f"{cls.__name__}.window must come from tumbling() or sliding()")
        if spec.by_count and cls.timestamp_field:
            raise TopologyError(
                f"{cls.__name__}: count windows follow arrival order; use a seconds= window "
                f"for event time"
            )
        if not spec.by_count:
            tick = cls.watermark_interval if cls.timestamp_field else min(spec.every, 0.1)
            cls.tick_seconds = tick
        outputs = cls.outputs
        streams: dict[str, Sequence[str]] = (
            dict(outputs) if isinstance(outputs, Mapping) else {"default": list(outputs)}
        )
        if not streams.get("default"):
            streams.pop("default", None)
        streams[LATE_STREAM] = [LATE_FIELD]
        cls.outputs = streams

    def process_window(self, window: TupleWindow) -> None:
        """Handle one window firing."""
        raise NotImplementedError

    # -- runtime side: what the executor calls -------------------------------------------
    def prepare(self, context: TopologyContext) -> None:
        """Subclasses overriding this must call ``super().prepare(context)``."""
        self._setup(context)

    def _setup(self, context: TopologyContext) -> None:
        spec = type(self).window
        timeout = context.config.message_timeout
        if context.config.acking and not spec.by_count and spec.length + self.lag >= timeout:
            raise TopologyError(
                f"{context.component!r}: window length ({spec.length}s) + lag "
                f"({self.lag}s) must be below Config.message_timeout "
                f"({context.config.message_timeout}s), or tuples time out in the window"
            )
        self._spec = spec
        self._current: list[Tuple] = []
        self._failed: set[int] = set()
        self._previous: list[Tuple] = []
        # count windows
        self._recent: deque[Tuple] = deque()
        self._since = 0
        # time windows: tuples sorted by timestamp, keys parallel to tuples
        self._keys: list[tuple[float, int]] = []
        self._tuples: dict[int, Tuple] = {}
        self._seq = 0
        self._max_ts: dict[tuple[str, str], float] = {}
        self._watermark = float("-inf")
        self._last_end: float | None = None

    def emit(
        self,
        values: Sequence[Any],
        anchors: Tuple | Sequence[Tuple] | None = None,
        stream: str = "default",
    ) -> None:
        """As ``Bolt.emit``; without ``anchors``, anchored to the window's tuples."""
        self._collector.emit(values, self._current if anchors is None else anchors, stream)

    def emit_direct(
        self,
        task: int,
        values: Sequence[Any],
        anchors: Tuple | Sequence[Tuple] | None = None,
        stream: str = "default",
    ) -> None:
        """As ``Bolt.emit_direct``; without ``anchors``, anchored to the window's tuples."""
        self._collector.emit_direct(
            task, values, self._current if anchors is None else anchors, stream
        )

    def process(self, tup: Tuple) -> None:
        if not hasattr(self, "_spec"):
            self._setup_missing()
        if self._spec.by_count:
            self._add_counted(tup)
        else:
            self._add_timed(tup)

    def _setup_missing(self) -> None:
        raise TopologyError(f"{type(self).__name__}.prepare did not call super().prepare(context)")

    def process_tick(self) -> None:
        if self._spec.by_count:
            return
        if self.timestamp_field:
            if self._max_ts:
                self._watermark = max(self._watermark, min(self._max_ts.values()) - self.lag)
        else:
            self._watermark = time.time()
        self._fire_until(self._watermark)

    # -- count windows -------------------------------------------------------------------
    def _add_counted(self, tup: Tuple) -> None:
        recent = self._recent
        recent.append(tup)
        self._since += 1
        if self._since >= self._spec.every:
            self._since = 0
            self._fire(list(recent), None, None)
            # the next firing holds the last ``length`` of these plus ``every`` newer ones:
            # the oldest are in no later window, so settle them now, not on later arrivals
            # (else a stream that stops leaves its last window's tuples to time out)
            for _ in range(len(recent) + int(self._spec.every) - int(self._spec.length)):
                self._settle(recent.popleft())

    # -- time windows --------------------------------------------------------------------
    def _timestamp(self, tup: Tuple) -> float:
        field = self.timestamp_field
        if not field:
            return time.time()
        value = tup[field]
        if isinstance(value, datetime):
            return value.timestamp()
        return float(value)

    def _add_timed(self, tup: Tuple) -> None:
        ts = self._timestamp(tup)
        if ts < self._watermark:
            self._collector.emit([tup], tup, LATE_STREAM)
            self.ack(tup)
            return
        if self.timestamp_field:
            source = (tup.source, tup.stream)
            if ts > self._max_ts.get(source, float("-inf")):
                self._max_ts[source] = ts
        self._seq += 1
        insort(self._keys, (ts, self._seq))
        self._tuples[self._seq] = tup

    def _fire_until(self, watermark: float) -> None:
        length, every = self._spec.length, self._spec.every
        keys = self._keys
        while keys:
            earliest = keys[0][0]
            first_end = (earliest // every + 1) * every
            end = first_end if self._last_end is None else max(self._last_end + every, first_end)
            if end > watermark:
                return
            start = end - length
            lo = bisect_left(keys, (start, -1))
            hi = bisect_left(keys, (end, -1))
            tuples = [self._tuples[seq] for _ts, seq in keys[lo:hi]]
            self._last_end = end
            self._fire(tuples, start, end)
            # evict what no later window (starting at end + every - length) contains
            cut = bisect_left(keys, (end + every - length, -1))
            for _ts, seq in keys[:cut]:
                self._settle(self._tuples.pop(seq))
            del keys[:cut]

    # -- shared --------------------------------------------------------------------------
    def _fire(self, tuples: list[Tuple], start: float | None, end: float | None) -> None:
        if not tuples:
            return
        previous = {id(t) for t in self._previous}
        now = {id(t) for t in tuples}
        window = TupleWindow(
            tuples=tuples,
            new=[t for t in tuples if id(t) not in previous],
            expired=[t for t in self._previous if id(t) not in now],
            start=start,
            end=end,
        )
        self._previous = tuples
        self._current = tuples
        try:
            self.process_window(window)
        except Exception:
            self._log_window_error()
            for t in tuples:
                if id(t) not in self._failed:
                    self._failed.add(id(t))
                    self.fail(t)
        finally:
            self._current = []

    def _settle(self, tup: Tuple) -> None:
        """Every window holding ``tup`` is done: ack it (unless a window failed it)."""
        if id(tup) in self._failed:
            self._failed.discard(id(tup))
        else:
            self.ack(tup)

    def _log_window_error(self) -> None:
        import logging

        logging.getLogger(__name__).exception(
            "error in process_window of %s; failing the window's tuples", type(self).__name__
        )
