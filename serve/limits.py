"""The query API's limits: what one query may cost, so one user cannot stall the others.

Each limit is checked before the query runs wherever the cost can be known from the
query alone, and each refusal is an ``InvalidQuery`` (HTTP 400) that says the number,
the limit and what to change:

==========================  ============  ============================================
limit                        default       refused with
==========================  ============  ============================================
result rows                  10,000        ``TooManyRows``: timeseries before running
                                           (one row per bucket), groupBy/topN when the
                                           answer is over
time buckets scanned         1,000,000     ``TooManyRows`` before running (10 years at
                                           minute granularity is 5.26 million)
topN ``threshold``           1..1,000      ``InvalidQuery`` naming the cap
values per filter dimension  1,000         ``InvalidQuery``
JSON nesting of the body     3 levels      ``InvalidQuery`` (query > filter > values)
request body                 64 KiB        HTTP 413
run time                     10 s          ``QueryTimeout`` (HTTP 408), setting
                                           ``SQUALL_QUERY_TIMEOUT`` (seconds)
==========================  ============  ============================================

Queries run on worker threads, off the server's event loop, so a slow one holds only
its own thread; DuckDB interrupts it at the timeout, Druid gets the timeout in the
query context.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from squall.exceptions import ConfigError
from squall.serve.exceptions import InvalidQuery

__all__ = [
    "DEFAULT_QUERY_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_BUCKETS",
    "MAX_DEPTH",
    "MAX_FILTER_VALUES",
    "MAX_ROWS",
    "MAX_THRESHOLD",
    "QueryLimits",
    "check_depth",
    "too_deep",
]

MAX_ROWS = 10_000
"""Most rows one answer may have; more is a 400 that says how to narrow the query."""
MAX_BUCKETS = 1_000_000
"""Most time buckets one query may span (about 1.9 years of minutes): groupBy and topN
return only buckets with data, so their rows cannot be known before running, but a
scan over millions of buckets is refused before it starts."""
MAX_THRESHOLD = 1_000
"""Largest topN ``threshold`` (rows per bucket)."""
MAX_FILTER_VALUES = 1_000
"""Most values one filter dimension may list."""
MAX_DEPTH = 3
"""Deepest JSON nesting of a query body: the query object > its filter > a list of values."""
MAX_BODY_BYTES = 64 * 1024
"""A query is a small JSON object; anything larger is refused with 413."""
DEFAULT_QUERY_TIMEOUT = 10.0
"""Seconds a query may run (``SQUALL_QUERY_TIMEOUT``) before it is stopped."""
DEFAULT_DUCKDB_MEMORY_LIMIT = "512MB"
"""DuckDB's memory, its cache of the store file included (``SQUALL_DUCKDB_MEMORY_LIMIT``):
the serve process's RSS levels off near it (docs/soak.md)."""


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """The limits a store applies to each query (the module's table)."""

    max_rows: int = MAX_ROWS
    timeout: float = DEFAULT_QUERY_TIMEOUT

    def __post_init__(self) -> None:
        if self.max_rows < 1:
            raise ConfigError(f"the row limit must be at least 1, not {self.max_rows}")
        if not 0 < self.timeout < 86_400:
            raise ConfigError(
                f"SQUALL_QUERY_TIMEOUT={self.timeout} is not valid: give seconds, "
                "more than 0 and less than a day (default 10)"
            )


def too_deep(limit: int = MAX_DEPTH) -> InvalidQuery:
    """The error for a body nested deeper than ``limit`` (also when the JSON parser's own
    depth limit stops it first)."""
    return InvalidQuery(
        f"the query is nested deeper than {limit} levels; a query is an object whose "
        'filter maps dimensions to a value or a list of values, e.g. {"filter": '
        '{"status_class": ["4xx", "5xx"]}}; nothing nests further'
    )


def check_depth(value: object, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` before anything recurses into it.

    Iterative, so a body nested a thousand deep costs a loop, never a RecursionError."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[object]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise too_deep(limit)
        stack.extend((child, depth + 1) for child in children)
