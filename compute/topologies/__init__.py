"""The standard topologies that ship with Squall.

Each topology is a subpackage: its pure, runtime-independent logic (parsing,
aggregation, row formats) in plain modules that its bolts call, so the logic can be
tested and benchmarked without a running cluster.

* ``log_metrics``: Flume events from ``logs.raw`` -> per-minute aggregate rows on
  ``logs.metrics`` (see ../shared/design.md, "Aggregate row").
"""

from __future__ import annotations

__all__: list[str] = []
