"""Per-task counters and a cheap latency histogram, summed per component on demand."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ComponentMetrics", "LatencyHistogram"]


class LatencyHistogram:
    """Log-linear buckets (16 per power of two, ~6% precision) over microseconds:
    O(1) to record, constant memory, mergeable."""

    __slots__ = ("buckets", "count")

    SUB = 4  # 2**4 sub-buckets per power of two

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0

    def record(self, seconds: float) -> None:
        us = int(seconds * 1e6)
        bits = us.bit_length()
        shift = bits - self.SUB - 1 if bits > self.SUB + 1 else 0
        key = (shift << 8) | (us >> shift)
        b = self.buckets
        b[key] = b.get(key, 0) + 1
        self.count += 1

    def merge(self, other: LatencyHistogram) -> None:
        for k, v in other.buckets.items():
            self.buckets[k] = self.buckets.get(k, 0) + v
        self.count += other.count

    def quantile(self, q: float) -> float:
        """Approximate q-quantile in seconds (upper edge of the bucket); 0 when empty."""
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for key in sorted(self.buckets, key=lambda k: ((k & 0xFF) + 1) << (k >> 8)):
            seen += self.buckets[key]
            if seen >= rank:
                shift = key >> 8
                return (((key & 0xFF) + 1) << shift) / 1e6
        return 0.0  # pragma: no cover


@dataclass
class ComponentMetrics:
    """Totals over a component's tasks since the topology started.

    emitted: emit calls. acked / failed: for a spout, trees completed / failed; for a
    bolt, input tuples acked / failed. executed: tuples given to ``process``.
    execute_latency_ms: mean time in ``process``. capacity: fraction of wall time the
    busiest task spent in ``process`` (near 1.0 = that component is the bottleneck).
    complete_latency_ms_p50/p99: spout emit -> tree completion.
    """

    component: str
    tasks: int
    emitted: int = 0
    acked: int = 0
    failed: int = 0
    executed: int = 0
    execute_latency_ms: float = 0.0
    capacity: float = 0.0
    complete_latency_ms_p50: float = 0.0
    complete_latency_ms_p99: float = 0.0
