"""The local log's producer: buffered sends, one SQLite transaction per flush or commit.

Records are assigned offsets only when they are written, inside the write transaction
that holds the log's write lock, so offsets are dense and readers never see a record
that is not committed. A transactional producer keeps its records and offsets in memory
until ``commit_transaction`` and writes them all in ONE SQLite transaction.

Fencing, as Kafka does it: opening a producer with a ``transactional_id`` bumps that
id's epoch; a commit checks the epoch inside its write transaction, so an older
producer with the same id (a zombie worker) can never commit again.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from squall.broker.base import TopicPartition, check_record, no_such_partition
from squall.broker.exceptions import (
    BrokerError,
    IllegalState,
    ProducerFenced,
    TransactionAborted,
)
from squall.broker.local.group import foreign_owners
from squall.broker.local.retention import enforce_retention
from squall.broker.local.store import (
    DB_NAME,
    OFFSET_BITS,
    LogOptions,
    connect,
    topic_partition_ids,
    translate_errors,
    write_txn,
)
from squall.broker.partitioner import KeyPartitioner
from squall.broker.txn_state import TransactionalState

__all__ = ["LocalProducer"]

log = logging.getLogger(__name__)

_INSERT = "INSERT INTO records(id, ts, key, value) VALUES (?, ?, ?, ?)"


class LocalProducer(TransactionalState):
    """A producer on a local log (see module docstring). Not thread-safe."""

    def __init__(self, directory: Path, options: LogOptions, transactional_id: str | None):
        self._db_path = directory / DB_NAME
        self._options = options
        self._conn = connect(directory, options.busy_timeout)
        self._init_state(transactional_id)
        self._tp_ids: dict[str, list[int]] = {}
        self._round_robin: dict[str, int] = defaultdict(int)
        self._partition_of = KeyPartitioner()
        self._buffer: dict[int, list[tuple[bytes | None, bytes]]] = defaultdict(list)
        self._buffered = 0
        self._txn_offsets: dict[tuple[str, str, int], int] = {}
        self._next_retention = time.monotonic() + options.retention_check_interval
        self._epoch = 0
        if transactional_id is not None:
            try:
                self._epoch = self._init_transactions(transactional_id)
            except BaseException:
                self._conn.close()
                raise

    def _init_transactions(self, transactional_id: str) -> int:
        with (
            translate_errors(self._db_path, "register the transactional producer"),
            write_txn(self._conn),
        ):
            (epoch,) = self._conn.execute(
                "INSERT INTO producers(transactional_id, epoch) VALUES (?, 1)"
                " ON CONFLICT(transactional_id) DO UPDATE SET epoch = epoch + 1"
                " RETURNING epoch",
                (transactional_id,),
            ).fetchone()
        return int(epoch)

    # -- sending (hot path) ------------------------------------------------------------

    def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> None:
        """Queue one record (see ``Producer.send``). Hot: no I/O except a topic's first use."""
        if not self._sendable:
            self._refuse_send()
        check_record(key, value)
        tp_ids = self._tp_ids.get(topic)
        if tp_ids is None:
            tp_ids = self._load_topic(topic)
        n = len(tp_ids)
        if partition is None:
            if key is None:
                partition = self._round_robin[topic] % n
                self._round_robin[topic] = partition + 1
            else:
                partition = self._partition_of(key, n)
        elif not 0 <= partition < n:
            raise no_such_partition(topic, partition, n)
        self._buffer[tp_ids[partition]].append((key, value))
        self._buffered += 1
        if self._buffered >= self._options.max_buffer_records and not self._in_txn:
            self.flush()

    def _load_topic(self, topic: str) -> list[int]:
        with translate_errors(self._db_path, f"look up topic {topic!r}"):
            tp_ids = topic_partition_ids(self._conn, topic)
        self._tp_ids[topic] = tp_ids
        return tp_ids

    # -- writing -----------------------------------------------------------------------

    def _write_buffer(self, conn: sqlite3.Connection, now_ms: int) -> None:
        """Inside a write transaction: give the buffered records offsets and insert them."""
        for tp_id, rows in self._buffer.items():
            (next_offset,) = conn.execute(
                "SELECT next_offset FROM partitions WHERE tp_id = ?", (tp_id,)
            ).fetchone()
            base = (tp_id << OFFSET_BITS) + next_offset
            conn.executemany(_INSERT, [(base + i, now_ms, k, v) for i, (k, v) in enumerate(rows)])
            size = sum(len(v) for _, v in rows) + sum(len(k) for k, _ in rows if k)
            conn.execute(
                "UPDATE partitions SET next_offset = ?, bytes = bytes + ? WHERE tp_id = ?",
                (next_offset + len(rows), size, tp_id),
            )

    def _clear_buffer(self) -> None:
        self._buffer.clear()
        self._buffered = 0

    def flush(self) -> None:
        """Write every buffered record in one durable transaction. On failure the buffer
        is kept, so a retried flush writes each record exactly once."""
        if self._closed:
            raise IllegalState("this producer is closed; make a new one with broker.producer()")
        if self._transactional_id is not None:
            return  # records become durable and visible together at commit_transaction()
        if self._buffer:
            with translate_errors(self._db_path, "flush records"), write_txn(self._conn) as conn:
                self._write_buffer(conn, time.time_ns() // 1_000_000)
            self._clear_buffer()
        self._maybe_enforce_retention()

    def _maybe_enforce_retention(self) -> None:
        now = time.monotonic()
        if now < self._next_retention:
            return
        self._next_retention = now + self._options.retention_check_interval
        try:
            with translate_errors(self._db_path, "enforce retention"):
                enforce_retention(
                    self._conn,
                    self._options.retention_ms,
                    self._options.retention_bytes,
                    time.time_ns() // 1_000_000,
                )
        except BrokerError as exc:  # retention can wait; the writes it follows succeeded
            log.warning("skipped retention on the local log: %s", exc)

    # -- transactions ------------------------------------------------------------------

    def begin_transaction(self) -> None:
        self._check_transactional("begin_transaction", open_txn=False)
        self._in_txn = True
        self._sendable = True

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group: str
    ) -> None:
        self._check_transactional("send_offsets_to_transaction", open_txn=True)
        for tp, offset in offsets.items():
            self._txn_offsets[(group, tp.topic, tp.partition)] = int(offset)

    def _end_txn(self) -> None:
        self._clear_buffer()
        self._txn_offsets.clear()
        self._in_txn = False
        self._sendable = False

    def commit_transaction(self) -> None:
        """Write the transaction's records and offsets in one SQLite transaction. On any
        failure nothing is written and TransactionAborted is raised; replay the input."""
        self._check_transactional("commit_transaction", open_txn=True)
        try:
            with (
                translate_errors(self._db_path, "commit the transaction"),
                write_txn(self._conn) as conn,
            ):
                (epoch,) = conn.execute(
                    "SELECT epoch FROM producers WHERE transactional_id = ?",
                    (self._transactional_id,),
                ).fetchone()
                if epoch != self._epoch:
                    self._fenced = True
                    raise ProducerFenced(
                        f"a newer producer with transactional_id "
                        f"{self._transactional_id!r} was opened, so this transaction "
                        f"was aborted and this producer can no longer commit; close it"
                    )
                taken = foreign_owners(conn, str(self._db_path), self._txn_offsets)
                if taken:
                    raise TransactionAborted(
                        f"the transaction was aborted: {', '.join(taken)} now belong to a "
                        f"consumer in another process (this one was expired from the group "
                        f"while stalled); replay from the committed offsets"
                    )
                self._write_buffer(conn, time.time_ns() // 1_000_000)
                conn.executemany(
                    "INSERT INTO group_offsets(grp, topic, part, next_offset)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(grp, topic, part)"
                    " DO UPDATE SET next_offset = excluded.next_offset",
                    [(g, t, p, o) for (g, t, p), o in self._txn_offsets.items()],
                )
        except TransactionAborted:
            raise
        except BrokerError as exc:
            raise TransactionAborted(
                f"the transaction was aborted, nothing in it is visible: {exc}"
            ) from exc
        finally:
            self._end_txn()
        self._maybe_enforce_retention()

    def abort_transaction(self) -> None:
        """Discard the open transaction; a no-op when none is open (e.g. after a failed
        commit, which already discarded it), so ``except: abort_transaction()`` is safe."""
        if self._closed or self._transactional_id is None:
            self._check_transactional("abort_transaction")
        self._end_txn()

    def _release(self) -> None:
        self._conn.close()
