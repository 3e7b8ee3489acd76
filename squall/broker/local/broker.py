"""``LocalBroker``: the embedded local log, the broker role with nothing but Python.

Durable, partitioned, offset-addressed topics with consumer groups and transactions in
one SQLite file (WAL mode, fsync at every commit) under a directory. Any number of
processes may open the same directory at once: the collector, topology workers and the
serve loader each get their own connections, and SQLite's write lock serializes the
short write transactions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

from squall.broker.base import Broker, RebalanceCallback, TopicPartition
from squall.broker.exceptions import IllegalState, UnknownPartition, UnknownTopic
from squall.broker.local.consumer import LocalConsumer
from squall.broker.local.producer import LocalProducer
from squall.broker.local.retention import enforce_retention
from squall.broker.local.store import (
    DB_NAME,
    LogOptions,
    connect,
    initialize,
    translate_errors,
    write_txn,
)

__all__ = ["LocalBroker"]


class LocalBroker(Broker):
    """A local log in directory ``path`` (created if missing).

    Keyword options (see ``LogOptions``): ``retention_ms`` (default 7 days) and
    ``retention_bytes`` (per partition, default unlimited), ``session_timeout`` (10 s),
    ``busy_timeout`` (30 s) and the other tunables of ``LogOptions``.

    Records carry the time they were appended (Kafka's LogAppendTime). The broker
    object itself is thread-safe; its producers and consumers are not. Open the log in
    each process (after a fork, not before): SQLite connections must not cross a fork.
    """

    def __init__(self, path: str | Path, **options: float | int | None):
        self.path = Path(path)
        self.url = f"local://{self.path}"
        try:
            self.options = LogOptions(**options)  # type: ignore[arg-type]
        except TypeError as exc:
            raise TypeError(f"LocalBroker: {exc}; see squall.broker.local.LogOptions") from exc
        self._directory = self.path.resolve()  # one name per log, however it was given
        self._db_path = self._directory / DB_NAME
        initialize(self._directory, self.options.busy_timeout)
        self._conn = connect(self._directory, self.options.busy_timeout, any_thread=True)
        self._lock = threading.Lock()
        self._closed = False

    def _checked(self) -> None:
        if self._closed:
            raise IllegalState(f"the broker {self.url} is closed; open it again")

    def create_topic(self, topic: str, partitions: int) -> None:
        """Create ``topic`` with ``partitions`` partitions; a no-op if it exists (its
        partition count is kept, as on Kafka)."""
        if not topic or not isinstance(topic, str):
            raise ValueError(f"a topic name must be a non-empty string, got {topic!r}")
        if partitions < 1:
            raise ValueError(f"topic {topic!r} needs at least 1 partition, got {partitions}")
        with self._lock, translate_errors(self._db_path, f"create topic {topic!r}"):
            self._checked()
            with write_txn(self._conn) as conn:
                created = conn.execute(
                    "INSERT OR IGNORE INTO topics(name, partitions) VALUES (?, ?)",
                    (topic, partitions),
                ).rowcount
                if created:
                    conn.executemany(
                        "INSERT INTO partitions(topic, part) VALUES (?, ?)",
                        [(topic, p) for p in range(partitions)],
                    )

    def partitions(self, topic: str) -> int:
        with self._lock, translate_errors(self._db_path, f"look up topic {topic!r}"):
            self._checked()
            row = self._conn.execute(
                "SELECT partitions FROM topics WHERE name = ?", (topic,)
            ).fetchone()
        if row is None:
            raise UnknownTopic(
                f"topic {topic!r} does not exist; create it with create_topic() first"
            )
        return int(row[0])

    def _offsets(self, column: str, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        result = {}
        with self._lock, translate_errors(self._db_path, "read offsets"):
            self._checked()
            for tp in tps:
                row = self._conn.execute(
                    f"SELECT {column} FROM partitions WHERE topic = ? AND part = ?",
                    (tp.topic, tp.partition),
                ).fetchone()
                if row is None:
                    self._raise_unknown(tp)
                result[TopicPartition(tp.topic, tp.partition)] = int(row[0])
        return result

    def _raise_unknown(self, tp: TopicPartition) -> None:
        row = self._conn.execute("SELECT partitions FROM topics WHERE name = ?", (tp.topic,))
        found = row.fetchone()
        if found is None:
            raise UnknownTopic(
                f"topic {tp.topic!r} does not exist; create it with create_topic() first"
            )
        raise UnknownPartition(
            f"topic {tp.topic!r} has partitions 0..{found[0] - 1}; "
            f"partition {tp.partition} does not exist"
        )

    def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return self._offsets("next_offset", tps)

    def beginning_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Per partition, the first offset retention has kept (local log only)."""
        return self._offsets("start_offset", tps)

    def committed(self, group: str, tp: TopicPartition) -> int | None:
        with self._lock, translate_errors(self._db_path, "read committed offsets"):
            self._checked()
            row = self._conn.execute(
                "SELECT next_offset FROM group_offsets WHERE grp = ? AND topic = ? AND part = ?",
                (group, tp.topic, tp.partition),
            ).fetchone()
        return None if row is None else int(row[0])

    def producer(self, transactional_id: str | None = None) -> LocalProducer:
        self._checked()
        return LocalProducer(self._directory, self.options, transactional_id)

    def consumer(
        self,
        group: str,
        topics: Iterable[str],
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ) -> LocalConsumer:
        self._checked()
        return LocalConsumer(self._directory, self.options, group, topics, on_assign, on_revoke)

    def enforce_retention(self, now_ms: int | None = None) -> int:
        """Drop records beyond the retention now; returns how many. Producers also run
        this every ``retention_check_interval`` seconds."""
        when = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        with self._lock, translate_errors(self._db_path, "enforce retention"):
            self._checked()
            return enforce_retention(
                self._conn, self.options.retention_ms, self.options.retention_bytes, when
            )

    def close(self) -> None:
        """Release the broker's own connection; its producers and consumers stay open
        until closed themselves."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()
