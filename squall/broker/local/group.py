"""Consumer-group membership in the local log: who is alive, who owns which partition.

There is no coordinator process. Each member writes a heartbeat row; every member reads
the live members and computes the same round-robin assignment (Kafka's
RoundRobinAssignor) on its own. An ``owners`` row per partition makes hand-over safe:
a member claims a partition only once no live member owns it, and the previous owner
releases it only after its ``on_revoke`` callback has run (and committed what it had
processed). So two live members never read the same partition at once.

A member that closes deletes its rows at once; a member that stops heartbeating for
``session_timeout`` is expired by the next member that checks the group.

Zombie guard for transactions (what KIP-447 gives Kafka): a transactional commit of
offsets for a group this process has members in is refused if a member of *another*
process now owns one of the partitions, i.e. this process was expired and its work was
handed over while it was stalled.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from squall.broker.base import TopicPartition
from squall.broker.local.store import write_txn

__all__ = ["GroupView", "Membership", "assign_round_robin", "foreign_owners"]

# (pid, log file, group) -> ids of the members this process runs; the pid keeps a forked
# child from taking its parent's members for its own
_local_members: dict[tuple[int, str, str], set[str]] = {}
_local_lock = threading.Lock()


def _register(db: str, group: str, member_id: str, present: bool) -> None:
    key = (os.getpid(), db, group)
    with _local_lock:
        members = _local_members.setdefault(key, set())
        if present:
            members.add(member_id)
        else:
            members.discard(member_id)
            if not members:
                del _local_members[key]


def foreign_owners(
    conn: sqlite3.Connection, db: str, partitions: Iterable[tuple[str, str, int]]
) -> list[str]:
    """Inside a write transaction: of ``(group, topic, partition)``, those owned by a
    member of another process, for groups this process has members in."""
    pid = os.getpid()
    with _local_lock:
        local = {
            group: set(ids) for (p, d, group), ids in _local_members.items() if p == pid and d == db
        }
    foreign = []
    for group, topic, part in partitions:
        if group not in local:
            continue  # no member here: offsets committed on a member's behalf; allowed
        row = conn.execute(
            "SELECT member_id FROM owners WHERE grp = ? AND topic = ? AND part = ?",
            (group, topic, part),
        ).fetchone()
        if row is not None and row[0] not in local[group]:
            foreign.append(f"{topic}[{part}]")
    return foreign


def assign_round_robin(
    members: Mapping[str, frozenset[str]], partitions: Mapping[str, int]
) -> dict[str, set[TopicPartition]]:
    """Deal every subscribed partition (sorted by topic, partition) to the members in id
    order, skipping members not subscribed to the partition's topic."""
    ids = sorted(members)
    result: dict[str, set[TopicPartition]] = {m: set() for m in ids}
    if not ids:
        return result
    turn = 0
    for topic in sorted(partitions):
        if not any(topic in members[m] for m in ids):
            continue
        for part in range(partitions[topic]):
            while topic not in members[ids[turn % len(ids)]]:
                turn += 1
            result[ids[turn % len(ids)]].add(TopicPartition(topic, part))
            turn += 1
    return result


@dataclass(frozen=True, slots=True)
class GroupView:
    """What one member read about its group at one moment."""

    my_heartbeat_ms: int | None  # None once another member expired us
    live: dict[str, frozenset[str]]  # member_id -> subscribed topics
    expired: bool  # some member's heartbeat is older than the session timeout
    owners: dict[TopicPartition, str]
    partitions: dict[str, int]  # every existing topic -> partition count


class Membership:
    """One member's rows in the group tables. Each method is one short statement or
    transaction on the connection it is given (callers own threading)."""

    def __init__(self, group: str, member_id: str, topics: Iterable[str], session_ms: int):
        self.group = group
        self.member_id = member_id
        self.topics = frozenset(topics)
        self.session_ms = session_ms

    def register(self, db: str, present: bool) -> None:
        """Record (or forget) that this process runs this member (see foreign_owners)."""
        _register(db, self.group, self.member_id, present)

    def join(self, conn: sqlite3.Connection, now_ms: int) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO members(grp, member_id, topics, heartbeat_ms)"
            " VALUES (?, ?, ?, ?)",
            (self.group, self.member_id, json.dumps(sorted(self.topics)), now_ms),
        )

    def heartbeat(self, conn: sqlite3.Connection, now_ms: int) -> bool:
        """Refresh our heartbeat; False if we were expired (our row is gone)."""
        cur = conn.execute(
            "UPDATE members SET heartbeat_ms = ? WHERE grp = ? AND member_id = ?",
            (now_ms, self.group, self.member_id),
        )
        return cur.rowcount == 1

    def leave(self, conn: sqlite3.Connection) -> None:
        with write_txn(conn):
            conn.execute(
                "DELETE FROM owners WHERE grp = ? AND member_id = ?", (self.group, self.member_id)
            )
            conn.execute(
                "DELETE FROM members WHERE grp = ? AND member_id = ?", (self.group, self.member_id)
            )

    def view(self, conn: sqlite3.Connection, now_ms: int) -> GroupView:
        cutoff = now_ms - self.session_ms
        live: dict[str, frozenset[str]] = {}
        expired = False
        mine = None
        for member_id, topics, heartbeat_ms in conn.execute(
            "SELECT member_id, topics, heartbeat_ms FROM members WHERE grp = ?", (self.group,)
        ):
            if member_id == self.member_id:
                mine = heartbeat_ms
                live[member_id] = self.topics  # we are alive: we are running this
            elif heartbeat_ms < cutoff:
                expired = True
            else:
                live[member_id] = frozenset(json.loads(topics))
        owners = {
            TopicPartition(topic, part): member_id
            for topic, part, member_id in conn.execute(
                "SELECT topic, part, member_id FROM owners WHERE grp = ?", (self.group,)
            )
        }
        partitions = dict(conn.execute("SELECT name, partitions FROM topics").fetchall())
        return GroupView(mine, live, expired, owners, partitions)

    def rebalance(
        self,
        conn: sqlite3.Connection,
        now_ms: int,
        release: set[TopicPartition],
        want: set[TopicPartition],
    ) -> set[TopicPartition] | None:
        """In one transaction: expire dead members, release ``release``, and claim those of
        ``want`` that no live member owns. The claimed set, or None if we were expired."""
        with write_txn(conn):
            expired = [
                member_id
                for (member_id,) in conn.execute(
                    "DELETE FROM members WHERE grp = ? AND heartbeat_ms < ? AND member_id != ?"
                    " RETURNING member_id",
                    (self.group, now_ms - self.session_ms, self.member_id),
                ).fetchall()
            ]
            conn.executemany(
                "DELETE FROM owners WHERE grp = ? AND member_id = ?",
                [(self.group, m) for m in expired],
            )
            if not self.heartbeat(conn, now_ms):
                return None
            conn.executemany(
                "DELETE FROM owners WHERE grp = ? AND topic = ? AND part = ? AND member_id = ?",
                [(self.group, tp.topic, tp.partition, self.member_id) for tp in release],
            )
            claimed: set[TopicPartition] = set()
            for tp in want:
                row = conn.execute(
                    "SELECT o.member_id, m.member_id FROM owners o LEFT JOIN members m"
                    " ON m.grp = o.grp AND m.member_id = o.member_id"
                    " WHERE o.grp = ? AND o.topic = ? AND o.part = ?",
                    (self.group, tp.topic, tp.partition),
                ).fetchone()
                if row is None or row[1] is None or row[0] == self.member_id:
                    conn.execute(
                        "INSERT OR REPLACE INTO owners(grp, topic, part, member_id)"
                        " VALUES (?, ?, ?, ?)",
                        (self.group, tp.topic, tp.partition, self.member_id),
                    )
                    claimed.add(tp)
            return claimed

    def check_commit(self, conn: sqlite3.Connection, tps: Iterable[TopicPartition]) -> list[str]:
        """Inside a write transaction: the partitions among ``tps`` another member owns."""
        taken = []
        for tp in tps:
            row = conn.execute(
                "SELECT member_id FROM owners WHERE grp = ? AND topic = ? AND part = ?",
                (self.group, tp.topic, tp.partition),
            ).fetchone()
            if row is not None and row[0] != self.member_id:
                taken.append(f"{tp.topic}[{tp.partition}]")
        return taken
