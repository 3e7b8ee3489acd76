"""The local log's consumer-group member: rebalances inside ``poll``, rowid-range reads.

Semantics follow Kafka's eager rebalance protocol: when this member's assignment
changes, ``on_revoke`` gets the whole old assignment (commit what you processed now),
then ``on_assign`` the whole new one, and every assigned partition is read from the
group's committed offset again (else from the log start). A member joins at its first
``poll`` (as on Kafka), so a consumer made only to read ``committed`` takes no
partitions. From then on a background thread only
heartbeats (every ``session_timeout / 3``), and stops doing so if ``poll`` is not called
for ``max_poll_interval``, so a stuck process loses its partitions as on Kafka.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

from squall.broker.base import Consumer, RebalanceCallback, Record, TopicPartition, check_seek
from squall.broker.exceptions import BrokerError, CommitFailed, IllegalState
from squall.broker.local.group import Membership, assign_round_robin
from squall.broker.local.store import (
    DB_NAME,
    OFFSET_BITS,
    LogOptions,
    connect,
    topic_partition_ids,
    translate_errors,
    write_txn,
)

__all__ = ["LocalConsumer"]

log = logging.getLogger(__name__)

_READ = "SELECT id, ts, key, value FROM records WHERE id >= ? AND id < ? ORDER BY id LIMIT ?"
_PARTITION_SPAN = 1 << OFFSET_BITS
_MAX_IDLE_SLEEP = 0.05  # s; bounds the latency from commit to poll() returning it
_CLAIM_RETRY = 0.05  # s between checks while a partition waits for its old owner


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class LocalConsumer(Consumer):
    """A member of one consumer group on a local log (see module docstring)."""

    def __init__(
        self,
        directory: Path,
        options: LogOptions,
        group: str,
        topics: Iterable[str],
        on_assign: RebalanceCallback | None,
        on_revoke: RebalanceCallback | None,
    ):
        if isinstance(topics, str):
            raise TypeError(f"topics must be a list of topic names, not the string {topics!r}")
        self._db_path = directory / DB_NAME
        self._options = options
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._membership = Membership(
            group, uuid.uuid4().hex, topics, int(options.session_timeout * 1000)
        )
        self._assignment: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._ranges: list[tuple[TopicPartition, int]] = []  # (tp, rowid base), fetch order
        self._turn = 0
        self._next_check = 0.0
        self._last_poll = time.monotonic()
        self._data_version = -1
        self._dirty = True  # positions changed or the last fetch was not empty
        self._closed = False
        self._directory = directory
        self._conn = connect(directory, options.busy_timeout)
        self._heartbeat: _Heartbeat | None = None  # joined the group (at the first poll)

    # -- group -------------------------------------------------------------------------

    def _check_group(self) -> None:
        """Expire dead members, release and claim partitions, fire the callbacks."""
        m = self._membership
        now_ms = _now_ms()
        self._next_check = time.monotonic() + self._options.rebalance_check_interval
        if self._heartbeat is None:  # join at the first poll, as a Kafka consumer does
            m.register(str(self._db_path), present=True)
            m.join(self._conn, now_ms)
            conn = connect(self._directory, self._options.busy_timeout, any_thread=True)
            self._heartbeat = _Heartbeat(self, conn)
            self._heartbeat.start()
        view = m.view(self._conn, now_ms)
        if view.my_heartbeat_ms is None:
            self._lose()
            return
        target = assign_round_robin(view.live, view.partitions).get(m.member_id, set())
        held = self._assignment
        release = held - target
        want = {
            tp
            for tp in target - held
            if view.owners.get(tp, m.member_id) == m.member_id or view.owners[tp] not in view.live
        }
        if target - held - want:
            self._next_check = time.monotonic() + _CLAIM_RETRY
        if not (release or want or view.expired):
            return
        changing = bool(release or want)
        errors: list[BaseException] = []
        if changing and held:
            self._call(self._on_revoke, set(held), errors)
        claimed = m.rebalance(self._conn, now_ms, release, want)
        if claimed is None:
            self._lose(already_revoked=changing)
        elif changing:
            self._set_assignment((held - release) | claimed)
            self._call(self._on_assign, set(self._assignment), errors)
        if errors:
            raise errors[0]

    def _lose(self, already_revoked: bool = False) -> None:
        """We were expired: our partitions may already be someone else's. Rejoin."""
        lost = set(self._assignment)
        self._set_assignment(set())
        self._membership.join(self._conn, _now_ms())
        self._next_check = 0.0
        errors: list[BaseException] = []
        if lost and not already_revoked:
            self._call(self._on_revoke, lost, errors)
        if errors:
            raise errors[0]

    @staticmethod
    def _call(
        callback: RebalanceCallback | None, tps: set[TopicPartition], errors: list[BaseException]
    ) -> None:
        if callback is None:
            return
        try:
            callback(tps)
        except Exception as exc:  # finish the rebalance first, then re-raise (as Kafka)
            errors.append(exc)

    def _set_assignment(self, tps: set[TopicPartition]) -> None:
        """Adopt ``tps``; every one is read from the committed offset (else the start)."""
        self._assignment = set(tps)
        committed = self._committed_offsets()
        self._positions = {tp: committed.get(tp, 0) for tp in tps}
        tp_ids: dict[str, list[int]] = {}
        ranges = []
        for tp in sorted(tps):
            if tp.topic not in tp_ids:
                tp_ids[tp.topic] = topic_partition_ids(self._conn, tp.topic)
            ranges.append((tp, tp_ids[tp.topic][tp.partition] << OFFSET_BITS))
        self._ranges = ranges
        self._dirty = True

    def _committed_offsets(self) -> dict[TopicPartition, int]:
        return {
            TopicPartition(topic, part): offset
            for topic, part, offset in self._conn.execute(
                "SELECT topic, part, next_offset FROM group_offsets WHERE grp = ?",
                (self._membership.group,),
            )
        }

    # -- reading (hot path) ------------------------------------------------------------

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        self._check_open()
        deadline = time.monotonic() + max(timeout, 0.0)
        delay = 0.001
        with translate_errors(self._db_path, "poll"):
            while True:
                now = time.monotonic()
                self._last_poll = now
                if now >= self._next_check:
                    self._check_group()
                if self._ranges:
                    (version,) = self._conn.execute("PRAGMA data_version").fetchone()
                    if self._dirty or version != self._data_version:
                        # read data_version before the fetch: a commit racing the fetch
                        # changes it again, so the next round fetches once more
                        self._data_version = version
                        records = self._fetch(max_records)
                        self._dirty = bool(records)
                        if records:
                            return records
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                time.sleep(min(delay, remaining, max(self._next_check - now, 0.001)))
                delay = min(delay * 2, _MAX_IDLE_SLEEP)

    def _fetch(self, max_records: int) -> list[Record]:
        """Read on from each assigned partition's position, starting the round at a
        different partition each time so that no partition starves. Hot."""
        out: list[Record] = []
        ranges = self._ranges
        positions = self._positions
        n = len(ranges)
        first = self._turn % n
        self._turn += 1
        execute = self._conn.execute
        for i in range(n):
            want = max_records - len(out)
            if want <= 0:
                break
            tp, base = ranges[(first + i) % n]
            rows = execute(_READ, (base + positions[tp], base + _PARTITION_SPAN, want)).fetchall()
            if rows:
                topic, part = tp
                out.extend(
                    [
                        Record(topic, part, rid - base, key, value, ts)
                        for rid, ts, key, value in rows
                    ]
                )
                positions[tp] = rows[-1][0] - base + 1
        return out

    # -- offsets -----------------------------------------------------------------------

    def assignment(self) -> set[TopicPartition]:
        return set(self._assignment)

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Store next-offsets; refused (CommitFailed) for partitions another member owns."""
        self._check_open()
        if not offsets:
            return
        m = self._membership
        with translate_errors(self._db_path, "commit offsets"), write_txn(self._conn) as conn:
            taken = m.check_commit(conn, offsets)
            if taken:
                raise CommitFailed(
                    f"group {m.group!r} rebalanced: {', '.join(taken)} now belong to "
                    f"another member, which reads from the last committed offset; "
                    f"records processed since then will be processed again"
                )
            conn.executemany(
                "INSERT INTO group_offsets(grp, topic, part, next_offset) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(grp, topic, part) DO UPDATE SET next_offset = excluded.next_offset",
                [(m.group, tp.topic, tp.partition, int(o)) for tp, o in offsets.items()],
            )

    def committed(self, tp: TopicPartition) -> int | None:
        self._check_open()
        with translate_errors(self._db_path, "read committed offsets"):
            row = self._conn.execute(
                "SELECT next_offset FROM group_offsets WHERE grp = ? AND topic = ? AND part = ?",
                (self._membership.group, tp.topic, tp.partition),
            ).fetchone()
        return None if row is None else int(row[0])

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._check_open()
        check_seek(self._assignment, tp, offset)
        self._positions[tp] = offset
        self._dirty = True

    # -- lifecycle ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise IllegalState("this consumer is closed; make a new one with broker.consumer()")

    def close(self) -> None:
        """Revoke (``on_revoke``), leave the group at once, release the file."""
        if self._closed:
            return
        errors: list[BaseException] = []
        if self._assignment:  # still a member: the callback may commit (as on Kafka)
            self._call(self._on_revoke, set(self._assignment), errors)
        self._closed = True
        try:
            if self._heartbeat is not None:
                self._membership.register(str(self._db_path), present=False)
                self._heartbeat.stop()
                with translate_errors(self._db_path, "leave the consumer group"):
                    self._membership.leave(self._conn)
        except BrokerError as exc:  # our partitions move once the session times out
            log.warning("could not leave group %r at once: %s", self._membership.group, exc)
        finally:
            self._conn.close()
        if errors:
            raise errors[0]


class _Heartbeat(threading.Thread):
    """Keeps the member alive between polls; owns its own connection."""

    def __init__(self, consumer: LocalConsumer, conn: sqlite3.Connection):
        super().__init__(name="squall-local-heartbeat", daemon=True)
        self._consumer = consumer
        self._conn = conn
        self._stopping = threading.Event()
        # heartbeats need no fsync: a lost one only shortens the session once
        conn.execute("PRAGMA synchronous=NORMAL")

    def run(self) -> None:
        consumer = self._consumer
        options = consumer._options
        interval = options.session_timeout / 3
        try:
            while not self._stopping.wait(interval):
                if time.monotonic() - consumer._last_poll > options.max_poll_interval:
                    continue  # a stuck poller gives its partitions up, as on Kafka
                try:
                    if not consumer._membership.heartbeat(self._conn, _now_ms()):
                        consumer._next_check = 0.0  # expired: rejoin at the next poll
                except sqlite3.Error:
                    pass  # busy or failing disk: the next beat retries; poll() reports
        finally:
            self._conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)
