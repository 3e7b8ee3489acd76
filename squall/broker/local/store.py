"""The SQLite file under a local log: options, schema, connections, transactions, errors.

One file, ``<path>/log.sqlite3``, in WAL mode with ``synchronous=FULL``: a COMMIT returns
only after the WAL is fsynced, so a committed write survives kill -9 and power loss, and
readers in other processes never block writers (or see uncommitted data).

A record's rowid packs its partition and offset, ``tp_id << 40 | offset``: inserts append
to a partition's own rowid range and a consumer's read is a rowid range scan, with no
secondary index to maintain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from squall.broker.exceptions import BrokerError, BrokerUnavailable, UnknownTopic

__all__ = [
    "DB_NAME",
    "OFFSET_BITS",
    "LogOptions",
    "connect",
    "initialize",
    "topic_partition_ids",
    "translate_errors",
    "write_txn",
]

DB_NAME = "log.sqlite3"
OFFSET_BITS = 40  # up to 2**40 offsets per partition, 2**23 partitions per log
SCHEMA_VERSION = "1"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS topics(name TEXT PRIMARY KEY, partitions INTEGER NOT NULL)"
    " WITHOUT ROWID",
    # start_offset: first retained offset; next_offset: offset the next record gets;
    # bytes: key + value bytes retained (for size-based retention).
    "CREATE TABLE IF NOT EXISTS partitions(tp_id INTEGER PRIMARY KEY, topic TEXT NOT NULL,"
    " part INTEGER NOT NULL, start_offset INTEGER NOT NULL DEFAULT 0,"
    " next_offset INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(topic, part))",
    "CREATE TABLE IF NOT EXISTS records(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " key BLOB, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS group_offsets(grp TEXT NOT NULL, topic TEXT NOT NULL,"
    " part INTEGER NOT NULL, next_offset INTEGER NOT NULL, PRIMARY KEY(grp, topic, part))"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS members(grp TEXT NOT NULL, member_id TEXT NOT NULL,"
    " topics TEXT NOT NULL, heartbeat_ms INTEGER NOT NULL, PRIMARY KEY(grp, member_id))"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS owners(grp TEXT NOT NULL, topic TEXT NOT NULL,"
    " part INTEGER NOT NULL, member_id TEXT NOT NULL, PRIMARY KEY(grp, topic, part))"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS producers(transactional_id TEXT PRIMARY KEY,"
    " epoch INTEGER NOT NULL) WITHOUT ROWID",
)


@dataclass(frozen=True, slots=True)
class LogOptions:
    """Tunables of a local log; the defaults suit the embedded pipeline."""

    busy_timeout: float = 30.0  # s to wait for another process's write lock
    session_timeout: float = 10.0  # s without heartbeat before a member is expired
    max_poll_interval: float = 300.0  # s without poll() before a member stops heartbeating
    rebalance_check_interval: float = 0.25  # s between group checks inside poll()
    retention_ms: int | None = 7 * 24 * 3600 * 1000  # drop records older than this
    retention_bytes: int | None = None  # per partition, drop oldest records beyond this
    retention_check_interval: float = 300.0  # s between retention runs by a producer
    max_buffer_records: int = 100_000  # a plain producer flushes itself beyond this


@contextmanager
def translate_errors(db_path: Path, action: str) -> Iterator[None]:
    """Turn sqlite3 errors into BrokerError subclasses that say what to do."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        msg = str(exc)
        if "locked" in msg or "busy" in msg:
            raise BrokerUnavailable(
                f"could not {action}: the local log {db_path} stayed locked by another "
                f"process beyond the busy timeout; retry, or stop the process holding it"
            ) from exc
        if "unable to open" in msg or "readonly" in msg:
            raise BrokerUnavailable(
                f"could not {action}: cannot open {db_path} for writing ({msg}); check that "
                f"the directory exists and is writable by this user"
            ) from exc
        if "full" in msg or "I/O" in msg:
            raise BrokerError(
                f"could not {action}: the disk under {db_path} failed ({msg}); free space "
                f"or lower the retention, then retry"
            ) from exc
        raise BrokerError(f"could not {action} on {db_path}: SQLite said {msg!r}") from exc
    except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError) as exc:
        raise BrokerError(f"could not {action} on {db_path}: SQLite said {exc!s}") from exc
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed", ...
        raise BrokerError(
            f"could not {action}: {db_path} is not a readable Squall local log ({exc}); "
            f"move it away to start an empty log"
        ) from exc
    except sqlite3.Error as exc:
        raise BrokerError(f"could not {action} on {db_path}: SQLite said {exc!s}") from exc


def connect(
    directory: Path, busy_timeout: float, *, any_thread: bool = False
) -> sqlite3.Connection:
    """A connection in autocommit mode; transactions are explicit (``write_txn``)."""
    db_path = directory / DB_NAME
    with translate_errors(db_path, "open the local log"):
        conn = sqlite3.connect(
            db_path, timeout=busy_timeout, isolation_level=None, check_same_thread=not any_thread
        )
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA journal_size_limit=67108864")  # cut the WAL back to 64 MiB
    return conn


@contextmanager
def write_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front (waiting up to the busy
    timeout) so that reads inside see the state the writes apply to."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            # if even ROLLBACK fails the connection is unusable; the original error says why
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def initialize(directory: Path, busy_timeout: float) -> None:
    """Create the directory and the schema (idempotent; safe from several processes)."""
    db_path = directory / DB_NAME
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrokerUnavailable(
            f"cannot create the local log directory {directory}: {exc.strerror}; "
            f"give a writable path (local://PATH or SQUALL_DATA_DIR)"
        ) from exc
    conn = connect(directory, busy_timeout)
    try:
        with translate_errors(db_path, "open the local log"):
            # 16 KiB pages: ~15% faster appends of ~300-byte records than the default 4 KiB
            # (takes effect only when the file is new)
            conn.execute("PRAGMA page_size=16384")
            (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode != "wal":
                raise BrokerError(
                    f"{db_path} cannot use SQLite's WAL mode (got {mode!r}); put the local "
                    f"log on a local disk, not a network file system"
                )
            with write_txn(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
                (version,) = conn.execute(
                    "SELECT value FROM meta WHERE name = 'schema_version'"
                ).fetchone()
            if version != SCHEMA_VERSION:
                raise BrokerError(
                    f"{db_path} has schema version {version}, this Squall reads version "
                    f"{SCHEMA_VERSION}; use the matching Squall or move the log away"
                )
    finally:
        conn.close()


def topic_partition_ids(conn: sqlite3.Connection, topic: str) -> list[int]:
    """The tp_ids of ``topic``'s partitions, indexed by partition number."""
    rows = conn.execute(
        "SELECT tp_id FROM partitions WHERE topic = ? ORDER BY part", (topic,)
    ).fetchall()
    if not rows:
        raise UnknownTopic(f"topic {topic!r} does not exist; create it with create_topic() first")
    return [tp_id for (tp_id,) in rows]
