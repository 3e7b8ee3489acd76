"""The embedded event store: raw events in table ``log_events`` of the DuckDB store's file.

Columns from ``squall.schema.EVENT_COLUMNS`` (``time`` as BIGINT epoch ms, strings
VARCHAR, longs BIGINT, doubles DOUBLE), no key: events are appended in load order, and
exactly-once loading comes from the loader's offsets, written in the same transaction
(table ``loader_offsets``, shared with the aggregates under the events topic's name).
Loaded in time order, the table's per-block min/max (DuckDB zonemaps) let a search of
one hour skip the other blocks.

A search is one SQL statement (serve.search gives the semantics): the interval, the
filter, ``strpos(lower(line), lower(text)) > 0`` for ``contains``, ``regexp_matches`` (RE2)
for ``regex``, the cursor as ``(time, id) < (t, i)``, ``ORDER BY time DESC, id DESC``
and ``LIMIT limit + 1``.

Retention: ``drop_expired(days)`` deletes events whose time is more than ``days`` before
now (wall clock); 0 keeps everything. The loader calls it every minute.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from squall.schema import EVENT_COLUMNS
from squall.serve.duckdb_timeout import fetch_within
from squall.serve.exceptions import InvalidQuery, StoreError
from squall.serve.limits import DEFAULT_QUERY_TIMEOUT
from squall.serve.search import EventRow, EventStore, SearchQuery

__all__ = ["TABLE", "DuckDBEvents"]

TABLE = "log_events"
_OFFSETS = "loader_offsets"  # the DuckDB store's table (serve.duckdb_store)
_SQL_TYPE = {"time": "BIGINT", "string": "VARCHAR", "long": "BIGINT", "double": "DOUBLE"}
_DAY_MS = 86_400_000


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_COLUMNS = ", ".join(_q(c.name) for c in EVENT_COLUMNS)
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    + ", ".join(
        f"{_q(c.name)} {_SQL_TYPE[c.type]}{'' if c.nullable else ' NOT NULL'}"
        for c in EVENT_COLUMNS
    )
    + ")"
)
_INSERT = f"INSERT INTO {TABLE} SELECT " + ", ".join(
    f"unnest(?::{_SQL_TYPE[c.type]}[])" for c in EVENT_COLUMNS
)
_JSON_COLUMNS = "{" + ", ".join(f"{c.name!r}: '{_SQL_TYPE[c.type]}'" for c in EVENT_COLUMNS) + "}"
_INSERT_JSON = (
    f"INSERT INTO {TABLE} SELECT {_COLUMNS} FROM read_json(?, "
    f"format = 'newline_delimited', columns = {_JSON_COLUMNS})"
)


class DuckDBEvents(EventStore):
    """``log_events`` on the DuckDB store's connection, writes under its write lock."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        write_lock: threading.Lock,
        path: str,
        timeout: float = DEFAULT_QUERY_TIMEOUT,
    ) -> None:
        self._con = con
        self.timeout = timeout
        self._write_lock = write_lock
        self.path = path
        self._scratch = Path(tempfile.mkdtemp(prefix="squall-events-"))
        cur = con.cursor()
        try:
            cur.execute(_DDL)
            found = [
                (name, str(sqltype))
                for name, sqltype in cur.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = ? ORDER BY ordinal_position",
                    [TABLE],
                ).fetchall()
            ]
        except duckdb.Error as exc:
            raise StoreError(f"cannot create table {TABLE} in {path}: {exc}") from exc
        finally:
            cur.close()
        want = [(c.name, _SQL_TYPE[c.type]) for c in EVENT_COLUMNS]
        if found != want:
            raise StoreError(
                f"table {TABLE} in {path} has columns {found}, but squall.schema needs {want}. "
                "Delete the file to rebuild it from the topics."
            )

    # -- writing -----------------------------------------------------------------------

    def write_with_offsets(
        self, events: Sequence[EventRow], topic: str, offsets: Mapping[int, int]
    ) -> None:
        columns = [list(col) for col in zip(*events, strict=True)] if events else []
        with self._write_lock:
            cur = self._con.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                if events:
                    cur.execute(_INSERT, columns)
                self._set_offsets(cur, topic, offsets)
                cur.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(duckdb.Error):  # already gone: nothing committed
                    cur.execute("ROLLBACK")
                if isinstance(exc, duckdb.Error):
                    raise StoreError(
                        f"writing {len(events)} events to {self.path} failed: {exc}"
                    ) from exc
                raise
            finally:
                cur.close()

    def write_records(
        self, records: Sequence[bytes], topic: str, offsets: Mapping[int, int]
    ) -> tuple[int, int]:
        """Add the events of ``logs.events`` records (NDJSON) with the offsets, all or
        nothing; returns (events added, lines skipped). DuckDB's JSON reader parses the
        batch from a scratch file; if any line is not an event, the batch is decoded in
        Python instead (squall.serve.event_loader.decode_events), skipping such lines."""
        scratch = self._scratch / "batch.ndjson"
        scratch.write_bytes(b"\n".join(records))
        try:
            with self._write_lock:
                cur = self._con.cursor()
                try:
                    cur.execute("BEGIN TRANSACTION")
                    found = cur.execute(_INSERT_JSON, [str(scratch)]).fetchone()
                    self._set_offsets(cur, topic, offsets)
                    cur.execute("COMMIT")
                    return (int(found[0]) if found else 0), 0
                except duckdb.Error:
                    with contextlib.suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                finally:
                    cur.close()
        finally:
            scratch.unlink(missing_ok=True)
        from squall.serve.event_loader import decode_events  # the slow, forgiving way

        rows: list[EventRow] = []
        bad = 0
        for value in records:
            good, wrong = decode_events(value)
            rows.extend(good)
            bad += wrong
        self.write_with_offsets(rows, topic, offsets)
        return len(rows), bad

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)

    @staticmethod
    def _set_offsets(
        cur: duckdb.DuckDBPyConnection, topic: str, offsets: Mapping[int, int]
    ) -> None:
        if offsets:
            cur.execute(
                f"INSERT OR REPLACE INTO {_OFFSETS} "
                "SELECT ?, unnest(?::INTEGER[]), unnest(?::BIGINT[])",
                [topic, list(offsets), list(offsets.values())],
            )

    def offsets(self, topic: str) -> dict[int, int]:
        found = self._fetch(
            f"SELECT partition, next_offset FROM {_OFFSETS} WHERE topic = ?", [topic]
        )
        return {int(p): int(o) for p, o in found}

    def drop_expired(self, days: int, now_ms: int | None = None) -> int:
        """Delete events older than ``days`` before ``now_ms`` (default: the wall clock);
        returns how many went. ``days`` 0 keeps everything."""
        if days <= 0:
            return 0
        now = int(time.time() * 1000) if now_ms is None else now_ms
        with self._write_lock:
            cur = self._con.cursor()
            try:
                found = cur.execute(
                    f"DELETE FROM {TABLE} WHERE {_q('time')} < ?", [now - days * _DAY_MS]
                ).fetchone()
            except duckdb.Error as exc:
                raise StoreError(f"dropping expired events in {self.path} failed: {exc}") from exc
            finally:
                cur.close()
        return int(found[0]) if found else 0

    def count(self) -> int:
        """Events stored."""
        return int(self._fetch(f"SELECT count(*) FROM {TABLE}", [])[0][0])

    # -- searching ---------------------------------------------------------------------

    def search(self, query: SearchQuery) -> list[EventRow]:
        sql, params = compile_search(query)
        try:
            return fetch_within(self._con, sql, params, self.timeout, _NARROW_SEARCH)
        except duckdb.InvalidInputException as exc:
            if query.regex is not None:
                raise InvalidQuery(
                    f"regex {query.regex!r} cannot run on this store: {exc}"
                ) from exc
            raise StoreError(f"search on {self.path} failed: {exc}") from exc
        except duckdb.Error as exc:
            raise StoreError(f"search on {self.path} failed: {exc}") from exc

    def _fetch(self, sql: str, params: list[Any]) -> list[EventRow]:
        try:
            return fetch_within(self._con, sql, params, self.timeout, _NARROW_SEARCH)
        except duckdb.Error as exc:
            raise StoreError(f"reading {TABLE} in {self.path} failed: {exc}") from exc


_NARROW_SEARCH = "Search a shorter interval, add a filter or a word"


def compile_search(query: SearchQuery) -> tuple[str, list[Any]]:
    """The SQL statement and parameters of ``query``."""
    t, i = _q("time"), _q("id")
    where = [f"{t} >= ?", f"{t} < ?"]
    params: list[Any] = [query.start_ms, query.end_ms]
    for dim, values in query.string_filter:
        where.append(f"{_q(dim)} IN ({', '.join('?' * len(values))})")
        params.extend(values)
    statuses = query.statuses
    if statuses is not None:
        where.append(f"status IN ({', '.join('?' * len(statuses))})" if statuses else "FALSE")
        params.extend(statuses)
    classes = query.status_classes
    if classes is not None:
        where.append(f"status // 100 IN ({', '.join('?' * len(classes))})" if classes else "FALSE")
        params.extend(classes)
    if query.contains is not None:
        where.append("strpos(lower(line), ?) > 0")
        params.append(query.contains.lower())
    if query.regex is not None:
        where.append("regexp_matches(line, ?)")
        params.append(query.regex)
    if query.after is not None:
        where.append(f"({t} < ? OR ({t} = ? AND {i} < ?))")
        params.extend([query.after[0], query.after[0], query.after[1]])
    sql = (
        f"SELECT {_COLUMNS} FROM {TABLE} WHERE {' AND '.join(where)} "
        f"ORDER BY {t} DESC, {i} DESC LIMIT {query.limit + 1}"
    )
    return sql, params
