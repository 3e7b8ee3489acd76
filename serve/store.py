"""The store role: where aggregate rows live and how the query API reads them.

Two implementations sit behind this interface: the embedded DuckDB store
(``duckdb://PATH``, serve.duckdb_store) and Apache Druid (``druid://HOST:PORT``).
Both must pass tests/serve/test_store_contract.py: the same rows written give the same
answers (exact metrics exactly, sketch metrics within the sketch's error).

Contract:

* ``write(rows)`` takes aggregate *delta* rows as decoded from ``logs.metrics`` (dicts with
  the columns of ``squall.schema``, sketches base64); rows with the same
  (minute, dimensions) key combine: sums add, min/max keep the extreme, sketches merge.
  When ``write`` returns, every later ``query`` sees the rows.
* ``query(q)`` answers a validated ``Query`` with result rows (see serve.query);
  ``TooManyRows`` if the answer would exceed the store's row limit, ``QueryTimeout`` if
  it runs longer than ``timeout`` seconds (serve.limits).
* ``time_boundary()`` gives the (first, last) minute that holds data, or None.
* Stores are safe to query from several threads while one thread writes.

``OffsetStore`` adds what the exactly-once loader needs: broker offsets committed in the
same transaction as the rows they came from.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from squall.exceptions import ConfigError
from squall.rows import WireRow
from squall.serve.limits import DEFAULT_DUCKDB_MEMORY_LIMIT, DEFAULT_QUERY_TIMEOUT, MAX_ROWS
from squall.serve.query import Query
from squall.serve.search import EventStore

__all__ = ["OffsetStore", "Store", "open_store"]


class Store(ABC):
    """Aggregate rows in, query answers out."""

    url: str
    max_rows: int = MAX_ROWS
    timeout: float = DEFAULT_QUERY_TIMEOUT
    events: EventStore | None = None
    """The raw events beside the aggregates (``POST /api/v1/search``), if kept."""

    @abstractmethod
    def write(self, rows: Sequence[WireRow]) -> None:
        """Add delta rows; rows with the same key combine. Raises RowFormatError, StoreError."""

    @abstractmethod
    def query(self, query: Query) -> list[dict[str, Any]]:
        """Result rows: ``timestamp`` (ISO-8601 UTC), the query's dimensions, its metrics."""

    @abstractmethod
    def time_boundary(self) -> tuple[datetime, datetime] | None:
        """(first minute, last minute) that hold data, naive UTC; None when empty."""

    @abstractmethod
    def close(self) -> None:
        """Release the store; it cannot be used afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OffsetStore(Store):
    """A store that keeps consumed broker offsets atomically with the rows."""

    @abstractmethod
    def write_with_offsets(
        self, rows: Sequence[WireRow], topic: str, offsets: Mapping[int, int]
    ) -> None:
        """Add rows and set, per partition of ``topic``, the next offset to read; all or
        nothing."""

    @abstractmethod
    def offsets(self, topic: str) -> dict[int, int]:
        """Per partition of ``topic``, the next offset to read (as last written)."""


def open_store(
    url: str,
    max_rows: int = MAX_ROWS,
    timeout: float = DEFAULT_QUERY_TIMEOUT,
    events_datasource: str = "log_events",
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT,
    datasource: str | None = None,
) -> Store:
    """Open ``duckdb://PATH`` (``duckdb://:memory:`` for a throwaway store) or
    ``druid://HOST:PORT[/DATASOURCE]`` (a Druid router or broker; the aggregates in the
    URL's datasource, else ``datasource``, else ``log_metrics``, and ``events_datasource``
    for the raw events); ``max_rows`` and ``timeout`` (seconds)
    limit each query (serve.limits); ``duckdb_memory_limit`` bounds DuckDB's memory (its
    cache of the file would otherwise grow with the store, up to 80% of the RAM)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not rest:
        raise ConfigError(f"store URL {url!r} is not valid; use duckdb://PATH or druid://HOST:PORT")
    if scheme == "duckdb":
        from squall.serve.duckdb_store import DuckDBStore

        return DuckDBStore(
            rest, max_rows=max_rows, timeout=timeout, memory_limit=duckdb_memory_limit
        )
    if scheme == "druid":
        from squall.druid_spec import DATASOURCE
        from squall.serve.druid_store import DruidStore

        address, _, datasource_in_url = rest.partition("/")
        return DruidStore(
            address,
            datasource_in_url or datasource or DATASOURCE,
            max_rows=max_rows,
            timeout=timeout,
            events_datasource=events_datasource,
        )
    raise ConfigError(f"unknown store scheme {scheme!r} in {url!r}; use duckdb:// or druid://")
