"""One DuckDB read with a time limit: the query API's and the search API's reads alike.

A ``threading.Timer`` interrupts the cursor when the read outlives ``timeout`` seconds;
DuckDB then stops the statement and this raises ``QueryTimeout`` (HTTP 408) with what to
do. Other DuckDB errors pass through for the caller to translate with its own context.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb

from squall.serve.exceptions import QueryTimeout

__all__ = ["fetch_within"]


def fetch_within(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], timeout: float, narrow: str
) -> list[tuple[Any, ...]]:
    """``sql``'s rows, read on a cursor of its own; ``narrow`` ends the timeout's message
    (how to make this kind of read smaller)."""
    cur = con.cursor()
    timer = threading.Timer(timeout, cur.interrupt)
    timer.daemon = True
    timer.start()
    try:
        return cur.execute(sql, params).fetchall()
    except duckdb.InterruptException as exc:
        raise QueryTimeout(
            f"the query ran longer than {timeout:g} s and was stopped. {narrow}, or raise "
            "SQUALL_QUERY_TIMEOUT."
        ) from exc
    finally:
        timer.cancel()
        cur.close()
