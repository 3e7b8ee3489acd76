"""The embedded store: aggregate rows in a DuckDB file (``duckdb://PATH``).

Layout, all derived from ``squall.schema`` (no second copy of the columns):

* ``log_metrics``: one row per (minute, every dimension), rolled up on write: a batch of
  deltas is combined in Python (squall.rows), merged with the rows already stored for
  the same keys, and upserted (``INSERT OR REPLACE`` on the primary key), all in one
  transaction.
* projections, the same rows rolled up further onto fewer dimensions
  (``log_metrics_by_route``: minute x service x route; ``log_metrics_by_minute``: minute
  only), written in the same transaction. A query reads
  the smallest table that has every dimension it filters or groups on, so the
  dashboard's series merge one sketch per minute, and its top routes one per
  (minute, service, route), instead of one per (minute, every dimension) row.
* five-minute and hourly roll-ups of those two projections (``log_metrics_by_route_5m``,
  ``log_metrics_by_5m``, ``..._1h``), also written in the same transaction. A query whose
  buckets are whole five minutes or hours (``five_minute`` ... ``day``, ``all``) that they
  cover reads the whole hours of its interval from the hourly roll-up, the whole
  five-minute stretches left at its edges from the five-minute one, and only the minutes
  left after that from a minute table: a day's totals merge about 50 sketches, not
  1,440; a day by five minutes, 288. Exact metrics stay exact (sums of the same
  integers); sketch metrics are the union of the same values merged in another order, so
  equal within the sketch's error. A file made before these tables existed gets them
  filled from the minute tables when it is opened.
* ``loader_offsets``: per (topic, partition), the next broker offset to load, committed
  with the rows (exactly-once loading, serve.loader).
* ``log_events``: the raw events, for search (serve.duckdb_events, ``self.events``).

Sums are stored as DOUBLE (exact for integers below 2**53), sketches as BLOB. Exact
metrics are computed in SQL; sketch metrics by merging the group's sketch binaries in
Python (squall.sketches).

One DuckDB connection per store; every write or query runs on its own cursor, so API
threads read consistent snapshots while the loader thread writes. Writes are serialized
by a lock (DuckDB allows one writer per row without conflicts). A query still running
after ``timeout`` seconds is interrupted from a timer thread (``QueryTimeout``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from squall import sketches
from squall.exceptions import ConfigError
from squall.rows import (
    Accumulator,
    Key,
    WireRow,
    add_stored,
    finish,
    project,
    roll_up,
    roll_up_stored,
)
from squall.schema import DIMENSIONS, METRICS, TIME_COLUMN
from squall.serve.duckdb_events import DuckDBEvents
from squall.serve.duckdb_timeout import fetch_within
from squall.serve.exceptions import StoreError, StoreUnavailable, TooManyRows
from squall.serve.intervals import bucket_starts, format_time
from squall.serve.limits import (
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    DEFAULT_QUERY_TIMEOUT,
    MAX_ROWS,
    QueryLimits,
)
from squall.serve.query import OUTPUT_METRICS, OutputMetric, Query
from squall.serve.store import OffsetStore

__all__ = ["TABLES", "DuckDBStore", "Table"]

_SQL_TYPE = {"sum": "DOUBLE", "min": "DOUBLE", "max": "DOUBLE", "quantiles": "BLOB", "hll": "BLOB"}
_METRIC_NAMES = tuple(m.name for m in METRICS)
_OFFSETS = "loader_offsets"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class Table:
    """A rolled-up table: minute x ``dims``, every metric of the schema."""

    name: str
    dims: tuple[str, ...]
    minutes: int = 1
    """The time resolution in minutes: 1 (rows by the minute), 5 or 60 (roll-ups)."""

    @property
    def key(self) -> tuple[str, ...]:
        return (TIME_COLUMN, *self.dims)

    def ddl(self) -> str:
        cols = [f"{_q(TIME_COLUMN)} TIMESTAMP NOT NULL"]
        cols += [f"{_q(d)} VARCHAR NOT NULL" for d in self.dims]
        cols += [f"{_q(m.name)} {_SQL_TYPE[m.kind]}" for m in METRICS]
        cols.append(f"PRIMARY KEY ({', '.join(_q(c) for c in self.key)})")
        return f"CREATE TABLE IF NOT EXISTS {_q(self.name)} ({', '.join(cols)})"

    def column_types(self) -> list[tuple[str, str]]:
        return [
            (TIME_COLUMN, "TIMESTAMP"),
            *((d, "VARCHAR") for d in self.dims),
            *((m.name, _SQL_TYPE[m.kind]) for m in METRICS),
        ]


TABLES: tuple[Table, ...] = tuple(
    t
    for t in (
        Table("log_metrics", DIMENSIONS),
        Table("log_metrics_by_route", ("service", "route")),
        Table("log_metrics_by_minute", ()),
        Table("log_metrics_by_route_5m", ("service", "route"), 5),
        Table("log_metrics_by_5m", (), 5),
        Table("log_metrics_by_route_1h", ("service", "route"), 60),
        Table("log_metrics_by_1h", (), 60),
    )
    if set(t.dims) <= set(DIMENSIONS)
)
"""The base table first; a query uses the table with the fewest dimensions that covers it
(and for whole hours or five-minute stretches of a coarse query, a roll-up of one)."""
_BY_SIZE = sorted((t for t in TABLES if t.minutes == 1), key=lambda t: len(t.dims))
_ROLLUPS = sorted((t for t in TABLES if t.minutes > 1), key=lambda t: (-t.minutes, len(t.dims)))
"""Coarsest first, then fewest dimensions."""
_GRANULARITY_MINUTES = {"minute": 1, "five_minute": 5, "fifteen_minute": 15, "hour": 60}


def _unnest(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"unnest(?::{sqltype}[]) AS {_q(name)}" for name, sqltype in columns)


class DuckDBStore(OffsetStore):
    """Aggregate rows in DuckDB; see the module docstring for the layout."""

    def __init__(
        self,
        path: str | Path,
        max_rows: int = MAX_ROWS,
        timeout: float = DEFAULT_QUERY_TIMEOUT,
        memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT,
    ) -> None:
        QueryLimits(max_rows, timeout)  # ConfigError when out of range
        self.path = str(path)
        self.url = f"duckdb://{self.path}"
        self.max_rows = max_rows
        self.timeout = timeout
        self._write_lock = threading.Lock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, config={"memory_limit": memory_limit})
        except (duckdb.ParserException, duckdb.InvalidInputException) as exc:
            raise ConfigError(
                f"SQUALL_DUCKDB_MEMORY_LIMIT={memory_limit!r} is not a memory size DuckDB "
                f"takes ({exc}); give e.g. 512MB or 2GB"
            ) from exc
        except duckdb.Error as exc:
            raise StoreUnavailable(
                f"cannot open the DuckDB store {self.path}: {exc}. Is another "
                "`squall serve` or demo using it? Stop it or point SQUALL_STORE elsewhere."
            ) from exc
        try:
            self._create()
            self.events: DuckDBEvents = DuckDBEvents(
                self._con, self._write_lock, self.path, timeout
            )
        except BaseException:
            self._con.close()
            raise

    # -- setup -------------------------------------------------------------------------

    def _create(self) -> None:
        cur = self._con.cursor()
        try:
            existing = {
                name for (name,) in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            }
            for table in TABLES:
                cur.execute(table.ddl())
                found = [
                    (name, str(sqltype))
                    for name, sqltype in cur.execute(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_name = ? ORDER BY ordinal_position",
                        [table.name],
                    ).fetchall()
                ]
                keys = cur.execute(
                    "SELECT constraint_column_names FROM duckdb_constraints() "
                    "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
                    [table.name],
                ).fetchall()
                if found != table.column_types() or keys != [(list(table.key),)]:
                    raise StoreError(
                        f"table {table.name} in {self.path} has columns {found} and primary "
                        f"key {keys}, but squall.schema needs {table.column_types()} keyed by "
                        f"{list(table.key)}. Delete the file to rebuild it from logs.metrics."
                    )
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {_OFFSETS} (topic VARCHAR NOT NULL, "
                "partition INTEGER NOT NULL, next_offset BIGINT NOT NULL, "
                "PRIMARY KEY (topic, partition))"
            )
            for table in TABLES:
                if table.minutes > 1 and table.name not in existing:
                    _backfill(cur, table)
        except duckdb.Error as exc:
            raise StoreError(f"cannot create the tables in {self.path}: {exc}") from exc
        finally:
            cur.close()

    def close(self) -> None:
        self._con.close()
        self.events.close()

    # -- writing -----------------------------------------------------------------------

    def write(self, rows: Sequence[WireRow]) -> None:
        self.write_with_offsets(rows, "", {})

    def write_with_offsets(
        self, rows: Sequence[WireRow], topic: str, offsets: Mapping[int, int]
    ) -> None:
        accs = roll_up(rows)  # RowFormatError before touching the database
        with self._write_lock:
            cur = self._con.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                if accs:
                    # project first: merging stored rows mutates the accumulators
                    deltas = [(t, project(accs, t.dims, t.minutes)) for t in TABLES]
                    for table, delta in deltas:
                        times = [k[0] for k in delta]
                        self._merge_table(cur, table, delta, (min(times), max(times)))
                if offsets:
                    cur.execute(
                        f"INSERT OR REPLACE INTO {_OFFSETS} "
                        "SELECT ?, unnest(?::INTEGER[]), unnest(?::BIGINT[])",
                        [topic, list(offsets), list(offsets.values())],
                    )
                cur.execute("COMMIT")
            except duckdb.Error as exc:
                _rollback(cur)
                raise StoreError(f"writing {len(rows)} rows to {self.path} failed: {exc}") from exc
            except BaseException:
                _rollback(cur)
                raise
            finally:
                cur.close()

    @staticmethod
    def _merge_table(
        cur: duckdb.DuckDBPyConnection,
        table: Table,
        accs: dict[Key, Accumulator],
        span: tuple[datetime, datetime],
    ) -> None:
        """Fold the stored rows of the batch's keys into ``accs``, then upsert them."""
        name = _q(table.name)
        nkey = len(table.key)
        key_types = table.column_types()[:nkey]
        key_lists = [list(col) for col in zip(*accs, strict=True)]
        match = " AND ".join(f"t.{_q(c)} = k.{_q(c)}" for c in table.key)
        in_span = f"t.{_q(TIME_COLUMN)} BETWEEN ? AND ?"
        cols = ", ".join(f"t.{_q(c)}" for c in (*table.key, *_METRIC_NAMES))
        stored = cur.execute(
            f"SELECT {cols} FROM {name} t JOIN (SELECT {_unnest(key_types)}) k "
            f"ON {match} WHERE {in_span}",
            [*key_lists, *span],
        ).fetchall()
        for row in stored:
            add_stored(accs[row[:nkey]], row[nkey:])
        values = [finish(acc) for acc in accs.values()]
        metric_lists = [list(col) for col in zip(*values, strict=True)]
        cur.execute(  # replaces the stored rows by key (the primary key)
            f"INSERT OR REPLACE INTO {name} SELECT {_unnest(table.column_types())}",
            [*key_lists, *metric_lists],
        )

    def offsets(self, topic: str) -> dict[int, int]:
        cur = self._con.cursor()
        try:
            found = cur.execute(
                f"SELECT partition, next_offset FROM {_OFFSETS} WHERE topic = ?", [topic]
            ).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"reading loader offsets from {self.path} failed: {exc}") from exc
        finally:
            cur.close()
        return {int(p): int(o) for p, o in found}

    # -- querying ----------------------------------------------------------------------

    def time_boundary(self) -> tuple[datetime, datetime] | None:
        smallest = _q(_BY_SIZE[0].name)
        t = _q(TIME_COLUMN)
        found = self._fetch(f"SELECT min({t}), max({t}) FROM {smallest}", [])
        first, last = found[0]
        return None if first is None else (first, last)

    def query(self, query: Query) -> list[dict[str, Any]]:
        plan = _Plan(query, self.max_rows)
        return plan.finish(self._fetch(plan.sql, plan.params))

    def _fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """Run one read on its own cursor; interrupt it if it outlives the timeout."""
        try:
            return fetch_within(self._con, sql, params, self.timeout, _NARROW_QUERY)
        except duckdb.Error as exc:
            raise StoreError(f"query on {self.path} failed: {exc}") from exc


_NARROW_QUERY = "Use a shorter interval, a coarser granularity or a filter"


def _backfill(cur: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Fill a new roll-up ``table`` from the minute table of the same dimensions, a day at
    a time (a file written before the roll-up existed)."""
    source = next(t for t in _BY_SIZE if t.dims == table.dims)
    t = _q(TIME_COLUMN)
    first, last = cur.execute(f"SELECT min({t}), max({t}) FROM {_q(source.name)}").fetchall()[0]
    if first is None:
        return
    cols = ", ".join(_q(c) for c in (*source.key, *_METRIC_NAMES))
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= last:
        found = cur.execute(
            f"SELECT {cols} FROM {_q(source.name)} WHERE {t} >= ? AND {t} < ?",
            [day, day + timedelta(days=1)],
        ).fetchall()
        day += timedelta(days=1)
        if not found:
            continue
        accs = roll_up_stored(found, len(source.key), table.minutes)
        values = [finish(acc) for acc in accs.values()]
        lists = [list(col) for col in zip(*accs, strict=True)]
        lists += [list(col) for col in zip(*values, strict=True)]
        cur.execute(f"INSERT INTO {_q(table.name)} SELECT {_unnest(table.column_types())}", lists)


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # already gone: nothing was committed
        cur.execute("ROLLBACK")


_BUCKET_SQL = {
    "minute": _q(TIME_COLUMN),
    "five_minute": f"time_bucket(INTERVAL 5 MINUTE, {_q(TIME_COLUMN)})",
    "fifteen_minute": f"time_bucket(INTERVAL 15 MINUTE, {_q(TIME_COLUMN)})",
    "hour": f"date_trunc('hour', {_q(TIME_COLUMN)})",
    "day": f"date_trunc('day', {_q(TIME_COLUMN)})",
}


def _metric_sql(m: OutputMetric) -> str:
    col = _q(m.columns[0])
    if m.op == "sum":
        return f"CAST(sum({col}) AS BIGINT)" if m.integer else f"sum({col})"
    if m.op == "ratio":
        return f"sum({col}) / nullif(sum({_q(m.columns[1])}), 0)"
    if m.op in ("min", "max"):
        return f"{m.op}({col})"
    raise AssertionError(m.op)


def _source(
    query: Query, table: Table, needed: set[str], metrics: Sequence[OutputMetric]
) -> tuple[str, list[Any]]:
    """The FROM of a query, and its parameters: the minute ``table``; or, for a query whose
    buckets are whole hours or five-minute stretches, the roll-ups that cover it for the
    whole hours and five-minute stretches of its interval and ``table`` for the rest."""
    bucket = _GRANULARITY_MINUTES.get(query.granularity)  # None: day or all
    levels = [
        t for t in _ROLLUPS if needed <= set(t.dims) and (bucket is None or bucket % t.minutes == 0)
    ]
    levels = [t for i, t in enumerate(levels) if all(o.minutes != t.minutes for o in levels[:i])]
    pieces = _pieces(query.start, query.end, [*levels, table])
    if len(pieces) == 1:
        return _q(pieces[0][0].name), []
    t = _q(TIME_COLUMN)
    columns = [TIME_COLUMN, *sorted(needed), *sorted({c for m in metrics for c in m.columns})]
    cols = ", ".join(_q(c) for c in columns)
    selects = [f"SELECT {cols} FROM {_q(p.name)} WHERE {t} >= ? AND {t} < ?" for p, _, _ in pieces]
    params = [edge for _, a, b in pieces for edge in (a, b)]
    return f"({' UNION ALL '.join(selects)})", params


def _pieces(
    start: datetime, end: datetime, levels: Sequence[Table]
) -> list[tuple[Table, datetime, datetime]]:
    """``[start, end)`` cut into (table, from, to): the coarsest level's whole steps in the
    middle, the finer levels' for what is left at either edge (the last level: the rest)."""
    first, rest = levels[0], levels[1:]
    if not rest:
        return [(first, start, end)]
    step = timedelta(minutes=first.minutes)
    inner_start = start + (datetime.min - start) % step  # ceiling
    inner_end = end - (end - datetime.min) % step  # floor
    if inner_start >= inner_end:
        return _pieces(start, end, rest)
    out = _pieces(start, inner_start, rest) if start < inner_start else []
    out.append((first, inner_start, inner_end))
    if inner_end < end:
        out += _pieces(inner_end, end, rest)
    return out


class _Plan:
    """One query compiled to SQL, and how to turn its result tuples into API rows.

    Result tuple layout: bucket, group dimensions, SQL metrics, sketch-binary lists.
    """

    def __init__(self, query: Query, max_rows: int) -> None:
        self.query = query
        self.max_rows = max_rows
        self.dims = query.group_dimensions
        needed = set(self.dims) | {d for d, _ in query.filter}
        table = next(t for t in _BY_SIZE if needed <= set(t.dims))
        metrics = [OUTPUT_METRICS[name] for name in query.metrics]
        self.sql_metrics = [m for m in metrics if not m.uses_sketch]
        self.sketch_columns = sorted({m.columns[0] for m in metrics if m.uses_sketch})
        self.sketch_metrics = [m for m in metrics if m.uses_sketch]
        self.all_bucket = query.granularity == "all"

        select = ["NULL" if self.all_bucket else _BUCKET_SQL[query.granularity]]
        select += [_q(d) for d in self.dims]
        select += [_metric_sql(m) for m in self.sql_metrics]
        select += [f"list({_q(c)}) FILTER (WHERE {_q(c)} IS NOT NULL)" for c in self.sketch_columns]
        source, self.params = _source(query, table, needed, metrics)
        where = [f"{_q(TIME_COLUMN)} >= ?", f"{_q(TIME_COLUMN)} < ?"]
        self.params += [query.start, query.end]
        for dim, values in query.filter:
            where.append(f"{_q(dim)} IN ({', '.join('?' * len(values))})")
            self.params.extend(values)
        group = ", ".join(str(i + 1) for i in range(1 + len(self.dims)))
        order = group
        tail = ""
        rank_metric = OUTPUT_METRICS[query.metric] if query.metric else None
        if query.query_type == "topN" and rank_metric and not rank_metric.uses_sketch:
            rank = 2 + len(self.dims) + self.sql_metrics.index(rank_metric)
            tail = (
                f" QUALIFY row_number() OVER (PARTITION BY {select[0]} "
                f"ORDER BY {_metric_sql(rank_metric)} DESC NULLS LAST, {select[1]}) "
                f"<= {query.threshold}"
            )
            order = f"1, {rank} DESC NULLS LAST, 2"
            self.rank_in_sql = True
        else:
            self.rank_in_sql = False
        limit = f" LIMIT {max_rows + 1}" if query.query_type == "groupBy" else ""  # over: 400
        self.sql = (
            f"SELECT {', '.join(select)} FROM {source} WHERE {' AND '.join(where)} "
            f"GROUP BY {group}{tail} ORDER BY {order}{limit}"
        )
        self.table = table

    def finish(self, found: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        query = self.query
        if query.query_type == "groupBy" and len(found) > self.max_rows:
            raise TooManyRows(
                f"this groupBy returns more than {self.max_rows} rows. Add a filter, use a "
                "shorter interval, a coarser granularity or fewer dimensions."
            )
        rows = [self._row(t) for t in found]
        if query.query_type == "timeseries":
            return self._zero_fill(rows)
        if query.query_type == "topN":
            if not self.rank_in_sql:
                rows = self._rank(rows)
            if len(rows) > self.max_rows:
                raise TooManyRows(
                    f"this topN returns {len(rows)} rows ({query.threshold} per "
                    f"{query.granularity} bucket); the limit is {self.max_rows}. Use a shorter "
                    "interval, a coarser granularity or a smaller threshold."
                )
        return rows

    def _row(self, found: tuple[Any, ...]) -> dict[str, Any]:
        query = self.query
        stamp = query.start if self.all_bucket else found[0]
        row: dict[str, Any] = {"timestamp": format_time(stamp)}
        pos = 1
        for d in self.dims:
            row[d] = found[pos]
            pos += 1
        for m in self.sql_metrics:
            row[m.name] = found[pos]
            pos += 1
        blobs = {c: found[pos + i] or [] for i, c in enumerate(self.sketch_columns)}
        self._sketch_values(row, blobs)
        return row

    def _sketch_values(self, row: dict[str, Any], blobs: Mapping[str, list[bytes]]) -> None:
        quantiles = [m for m in self.sketch_metrics if m.op == "quantile"]
        if quantiles:
            values = sketches.quantiles(
                blobs[quantiles[0].columns[0]], [m.fraction for m in quantiles]
            )
            for m, v in zip(quantiles, values, strict=True):
                row[m.name] = v
        for m in self.sketch_metrics:
            if m.op == "distinct":
                row[m.name] = sketches.hll_estimate(blobs[m.columns[0]])

    def _zero_fill(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        query = self.query
        by_stamp = {r["timestamp"]: r for r in rows}
        empty: dict[str, Any] = {}
        for m in self.sql_metrics:
            empty[m.name] = 0 if m.op == "sum" and m.integer else 0.0 if m.op == "sum" else None
        self._sketch_values(empty, {c: [] for c in self.sketch_columns})
        out = []
        for start in bucket_starts(query.start, query.end, query.granularity):
            stamp = format_time(start)
            row = by_stamp.get(stamp)
            out.append(row if row is not None else {"timestamp": stamp, **empty})
        return out

    def _rank(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        query = self.query
        assert query.metric is not None and query.dimension is not None
        metric, dim = query.metric, query.dimension

        def order(r: dict[str, Any]) -> tuple[Any, ...]:
            v = r[metric]
            return (r["timestamp"], v is None, -(v or 0.0), r[dim])

        out: list[dict[str, Any]] = []
        per_bucket: dict[str, int] = {}
        for r in sorted(rows, key=order):
            n = per_bucket.get(r["timestamp"], 0)
            if n < query.threshold:
                out.append(r)
                per_bucket[r["timestamp"]] = n + 1
        return out
