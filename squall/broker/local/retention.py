"""Retention: drop a partition's oldest records by age and/or size, keeping offsets.

Like Kafka, only a prefix of each partition is ever deleted, so the retained offsets
stay dense and are never renumbered; the log start (``start_offset``) moves up. A
consumer positioned before the log start reads on from it (Kafka's
``auto.offset.reset=earliest``). Work is done in chunks, each its own short write
transaction, so producers in other processes are never held up for long.
"""

from __future__ import annotations

import sqlite3

from squall.broker.local.store import OFFSET_BITS, write_txn

__all__ = ["enforce_retention"]

_CHUNK = 10_000


def enforce_retention(
    conn: sqlite3.Connection, retention_ms: int | None, retention_bytes: int | None, now_ms: int
) -> int:
    """Delete, per partition, the oldest records older than ``retention_ms`` or beyond
    ``retention_bytes`` (key + value bytes); returns how many were deleted."""
    if retention_ms is None and retention_bytes is None:
        return 0
    deleted = 0
    for (tp_id,) in conn.execute("SELECT tp_id FROM partitions").fetchall():
        while True:
            n = _trim_chunk(conn, tp_id, retention_ms, retention_bytes, now_ms)
            deleted += n
            if n < _CHUNK:
                break
    return deleted


def _trim_chunk(
    conn: sqlite3.Connection,
    tp_id: int,
    retention_ms: int | None,
    retention_bytes: int | None,
    now_ms: int,
) -> int:
    base = tp_id << OFFSET_BITS
    oldest_kept_ms = None if retention_ms is None else now_ms - retention_ms
    with write_txn(conn):
        start, end, size = conn.execute(
            "SELECT start_offset, next_offset, bytes FROM partitions WHERE tp_id = ?", (tp_id,)
        ).fetchone()
        if start >= end:
            return 0
        if retention_bytes is None or size <= retention_bytes:
            (oldest_ms,) = conn.execute(
                "SELECT ts FROM records WHERE id >= ? ORDER BY id LIMIT 1", (base + start,)
            ).fetchone()
            if oldest_kept_ms is None or oldest_ms >= oldest_kept_ms:
                return 0  # the common case: nothing to drop, decided by one row
        cut: int = start
        freed = 0
        for rid, ts, key_len, value_len in conn.execute(
            "SELECT id, ts, length(key), length(value) FROM records"
            " WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (base + start, base + end, _CHUNK),
        ).fetchall():
            too_old = oldest_kept_ms is not None and ts < oldest_kept_ms
            too_big = retention_bytes is not None and size - freed > retention_bytes
            if not (too_old or too_big):
                break
            freed += (key_len or 0) + value_len
            cut = rid - base + 1
        if cut == start:
            return 0
        conn.execute("DELETE FROM records WHERE id >= ? AND id < ?", (base + start, base + cut))
        conn.execute(
            "UPDATE partitions SET start_offset = ?, bytes = bytes - ? WHERE tp_id = ?",
            (cut, freed, tp_id),
        )
        return cut - int(start)
