"""The DuckDB store's own promises: schema-derived tables, one row per key after roll-up,
durability across reopen, atomic writes with offsets, and errors that say what to do."""

from __future__ import annotations

import base64
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from datasketches import hll_sketch, tgt_hll_type

from squall.exceptions import ConfigError, RowFormatError
from squall.schema import DIMENSIONS, HLL_LG_K, METRICS, TIME_COLUMN
from squall.serve.duckdb_store import TABLES, DuckDBStore
from squall.serve.exceptions import StoreError, StoreUnavailable
from squall.serve.query import parse_query

EVERYTHING = {
    "queryType": "groupBy",
    "interval": "2015-01-01/2016-01-01",
    "granularity": "minute",
    "dimensions": list(DIMENSIONS),
    "metrics": ["events", "errors", "bytes", "latency_avg", "latency_min", "latency_max"],
}


def columns(path: Path, table: str) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def count(path: Path, sql: str) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        (n,) = con.execute(sql).fetchone() or (0,)
        return int(n)


def test_tables_come_from_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    DuckDBStore(path).close()
    metrics = [m.name for m in METRICS]
    assert columns(path, "log_metrics") == [TIME_COLUMN, *DIMENSIONS, *metrics]
    assert columns(path, "log_metrics_by_route") == [TIME_COLUMN, "service", "route", *metrics]
    assert columns(path, "log_metrics_by_minute") == [TIME_COLUMN, *metrics]
    assert columns(path, "log_metrics_by_route_5m") == [TIME_COLUMN, "service", "route", *metrics]
    assert columns(path, "log_metrics_by_5m") == [TIME_COLUMN, *metrics]


def test_a_file_without_the_roll_ups_gets_them_filled(
    tmp_path: Path, few_rows: list[dict[str, Any]]
) -> None:
    # a file written before the roll-ups existed: same rows, the roll-up tables dropped
    fresh, old = tmp_path / "fresh.duckdb", tmp_path / "old.duckdb"
    for path in (fresh, old):
        with DuckDBStore(path) as store:
            store.write(few_rows)
    coarse = [t for t in TABLES if t.minutes > 1]
    assert coarse
    with duckdb.connect(str(old)) as con:
        for table in coarse:
            con.execute(f"DROP TABLE {table.name}")
    DuckDBStore(old).close()  # fills them
    metrics = ", ".join(m.name for m in METRICS if m.kind in ("sum", "min", "max"))
    for table in coarse:
        key = ", ".join([TIME_COLUMN, *table.dims])
        sql = f"SELECT {key}, {metrics} FROM {table.name} ORDER BY {key}"
        with duckdb.connect(str(fresh), read_only=True) as a, duckdb.connect(str(old)) as b:
            want, got = a.execute(sql).fetchall(), b.execute(sql).fetchall()
        assert len(got) == len(want) > 1
        for g, w in zip(got, want, strict=True):  # float sums (latency) in another order
            assert g[: 1 + len(table.dims)] == w[: 1 + len(table.dims)]
            assert g[1 + len(table.dims) :] == pytest.approx(w[1 + len(table.dims) :])


def _floor(time: str, minutes: int) -> str:
    at = datetime.fromisoformat(time)
    return at.replace(minute=at.minute - at.minute % minutes).isoformat()


def test_roll_up_keeps_one_row_per_key(tmp_path: Path, few_rows: list[dict[str, Any]]) -> None:
    rows = few_rows
    path = tmp_path / "m.duckdb"
    with DuckDBStore(path) as store:
        for i in range(0, len(rows), 700):
            store.write(rows[i : i + 700])
    for table in TABLES:
        distinct = {
            (_floor(r[TIME_COLUMN], table.minutes), *(r[d] for d in table.dims)) for r in rows
        }
        assert len(distinct) < len(rows)  # the deltas really repeat keys
        assert count(path, f"SELECT count(*) FROM {table.name}") == len(distinct)
        assert count(path, f"SELECT sum(events) FROM {table.name}") == sum(
            r["events"] for r in rows
        )


def test_rows_survive_reopen(tmp_path: Path, few_rows: list[dict[str, Any]]) -> None:
    rows = few_rows
    path = tmp_path / "m.duckdb"
    query = parse_query(EVERYTHING, max_rows=100_000)
    with DuckDBStore(path, max_rows=100_000) as store:
        store.write(rows[:2000])
        store.write_with_offsets(rows[2000:], "logs.metrics", {0: 17, 2: 5})
        before = store.query(query)
    with DuckDBStore(path, max_rows=100_000) as store:
        assert store.query(query) == before
        assert store.offsets("logs.metrics") == {0: 17, 2: 5}
        assert store.offsets("other") == {}
    assert sum(r["events"] for r in before) == sum(r["events"] for r in rows)


def test_a_second_process_cannot_open_a_store_in_use(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from serve.duckdb_store import DuckDBStore; "
            f"s = DuckDBStore({str(path)!r}); print('open', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(StoreUnavailable, match="another"):
            DuckDBStore(path)
    finally:
        holder.communicate("")


def test_other_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute('CREATE TABLE log_metrics ("time" TIMESTAMP, service VARCHAR, hits BIGINT)')
    with pytest.raises(StoreError, match="Delete the file"):
        DuckDBStore(path)


def test_table_without_its_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    DuckDBStore(path).close()
    with duckdb.connect(str(path)) as con:  # same columns, no primary key
        con.execute("CREATE TABLE copy AS SELECT * FROM log_metrics_by_minute")
        con.execute("DROP TABLE log_metrics_by_minute")
        con.execute("ALTER TABLE copy RENAME TO log_metrics_by_minute")
    with pytest.raises(StoreError, match="primary key"):
        DuckDBStore(path)


def _users_sketch() -> str:
    sketch = hll_sketch(HLL_LG_K, tgt_hll_type.HLL_4)
    sketch.update("someone")
    return base64.b64encode(sketch.serialize_compact()).decode()


USERS = _users_sketch()
"""A valid users (HLL) sketch, which is not a quantiles sketch."""


def good_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "time": "2015-05-17T10:05:00Z",
        "service": "web",
        "method": "GET",
        "route": "/",
        "status_class": "2xx",
        "status": "200",
        "events": 1,
        "errors": 0,
        "bytes": 10,
        "latency_count": 0,
        "latency_sum": 0,
        "latency_min": None,
        "latency_max": None,
        "latency_sketch": None,
        "users_sketch": None,
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"time": "yesterday"}, "ISO-8601"),
        ({"time": 1431857100}, "ISO-8601"),
        ({"service": None}, "dimension 'service'"),
        ({"route": ["/"]}, "dimension 'route'"),
        ({"events": "1"}, "metric 'events'"),
        ({"latency_min": True}, "metric 'latency_min'"),
        ({"latency_sketch": "not base64!"}, "latency_sketch is not valid base64"),
        ({"users_sketch": 12}, "users_sketch must be a base64 string"),
        ({"users_sketch": "AAECZ2FyYmFnZQ=="}, "users_sketch is not a serialized DataSketches"),
        ({"latency_sketch": USERS}, "latency_sketch is not a serialized DataSketches quant"),
    ],
)
def test_invalid_rows_are_refused_whole_batch(changes: dict[str, Any], message: str) -> None:
    with DuckDBStore(":memory:") as store:
        with pytest.raises(RowFormatError, match=message):
            store.write_with_offsets([good_row(), good_row(**changes)], "t", {0: 2})
        assert store.offsets("t") == {}
        assert store.time_boundary() is None  # the good row was not written either


def test_rows_combine_by_kind() -> None:
    """sum adds, min/max keep the extremes (null = none), time floors to the minute."""
    with DuckDBStore(":memory:") as store:
        store.write([good_row(events=2, bytes=5, latency_min=None, latency_max=None)])
        store.write(
            [
                good_row(time="2015-05-17T10:05:59.900Z", events=3, latency_min=7.5),
                good_row(time="2015-05-17T12:05:00+02:00", latency_min=2.5, latency_max=9.0),
                good_row(status=404, status_class="4xx", events=1),  # a number is fine
            ]
        )
        rows = store.query(parse_query(EVERYTHING))
    assert [(r["timestamp"], r["status"]) for r in rows] == [
        ("2015-05-17T10:05:00Z", "200"),
        ("2015-05-17T10:05:00Z", "404"),
    ]
    assert rows[0]["events"] == 6 and rows[0]["bytes"] == 25
    assert rows[0]["latency_min"] == 2.5 and rows[0]["latency_max"] == 9.0
    assert rows[1]["events"] == 1 and rows[1]["latency_min"] is None


def test_the_memory_limit_bounds_duckdb_and_a_wrong_one_says_which_setting() -> None:
    with DuckDBStore(":memory:", memory_limit="256MB") as store:
        limit = store._con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert limit == ("244.1 MiB",)  # 256 * 1000^2 bytes
    with pytest.raises(ConfigError, match="SQUALL_DUCKDB_MEMORY_LIMIT='lots'"):
        DuckDBStore(":memory:", memory_limit="lots")
