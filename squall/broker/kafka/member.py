"""What a Kafka consumer-group member keeps whichever client it wraps (kafka-python's
or confluent-kafka's): the assignment as rebalances report it, the errors of the
user's rebalance callbacks (raised later from ``poll``/``close``), and whether the
partitions were lost, after which nothing may be committed for them."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from squall.broker.base import Consumer, RebalanceCallback, TopicPartition, check_seek
from squall.broker.exceptions import CommitFailed

__all__ = ["GroupMember", "joined_metadata"]

# (bootstrap, group) -> this process's members of it that have not finished closing
_OPEN: dict[tuple[str, str], weakref.WeakSet[GroupMember]] = {}
_OPEN_LOCK = threading.Lock()


def joined_metadata(bootstrap: str, group: str) -> Any | None:
    """The generation (client's group metadata) of this process's one open, joined
    member of ``group`` on ``bootstrap``, for KIP-447 fencing of transactional offset
    commits; None when there is none (or more than one). CommitFailed when that member
    lost its partitions. Closed members do not count: a worker restarted in the same
    process must not be refused for its predecessor's lost session."""
    with _OPEN_LOCK:
        members = list(_OPEN.get((bootstrap, group), ()))
    joined = [m for m in (member.group_metadata() for member in members) if m is not None]
    return joined[0] if len(joined) == 1 else None


class GroupMember(Consumer):
    """The client-independent half of a member; subclasses wire their client's
    rebalance callbacks to ``_revoked_tps``, ``_lost_tps`` and ``_assigned_tps``."""

    def _join_as(
        self,
        broker: Any,
        group: str,
        topics: Iterable[str],
        on_assign: RebalanceCallback | None,
        on_revoke: RebalanceCallback | None,
    ) -> list[str]:
        """Set up the bookkeeping; the topics as a list."""
        if isinstance(topics, str):
            raise TypeError(f"topics must be a list of topic names, not the string {topics!r}")
        self.group = group
        self._broker = broker
        self._where: str = broker.bootstrap
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._assignment: set[TopicPartition] = set()
        self._joined = False
        self._lost = False  # partitions taken away without a revoke: no commits
        self._errors: list[BaseException] = []
        with _OPEN_LOCK:
            _OPEN.setdefault((self._where, group), weakref.WeakSet()).add(self)
        return list(topics)

    def _closed_now(self) -> None:
        """Called last by ``close``: from now on ``joined_metadata`` ignores this member."""
        self._assignment = set()
        with _OPEN_LOCK:
            members = _OPEN.get((self._where, self.group))
            if members is not None:
                members.discard(self)

    # -- rebalances --------------------------------------------------------------------

    def _revoked_tps(self, revoked: set[TopicPartition]) -> None:
        try:
            if revoked and self._on_revoke is not None:
                self._on_revoke(set(revoked))
        except Exception as exc:
            self._errors.append(exc)
        finally:
            self._assignment -= revoked

    def _lost_tps(self, lost: set[TopicPartition]) -> None:
        """The session expired (Kafka unreachable, or a poll came too late): another
        member may own the partitions already, so nothing may be committed for them,
        not even by ``on_revoke``, until the next assignment."""
        self._lost = True
        self._revoked_tps(lost)

    def _assigned_tps(self, assigned: set[TopicPartition]) -> None:
        self._joined = True
        self._lost = False
        self._assignment = set(assigned)
        try:
            if self._on_assign is not None:
                self._on_assign(set(assigned))
        except Exception as exc:
            self._errors.append(exc)

    def _raise_callback_error(self) -> None:
        if self._errors:
            error = self._errors[0]
            self._errors.clear()
            raise error

    # -- offsets -----------------------------------------------------------------------

    def assignment(self) -> set[TopicPartition]:
        return set(self._assignment)

    def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset (offsets in an open transaction not yet)."""
        self._check_open()
        committed: int | None = self._broker.committed(self.group, tp)
        return committed

    def _check_commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """CommitFailed for partitions this member does not own (any more): Kafka would
        accept them from any member of the current generation."""
        if self._lost:
            raise self._lost_error()
        if self._joined:
            foreign = sorted(tp for tp in offsets if tp not in self._assignment)
            if foreign:
                raise CommitFailed(
                    f"group {self.group!r}: {', '.join(f'{t}[{p}]' for t, p in foreign)} "
                    f"are not assigned to this member (any more); their owner reads from "
                    f"the last committed offset, so records since then will be read again"
                )

    def _check_seek(self, tp: TopicPartition, offset: int) -> None:
        self._check_open()
        check_seek(self._assignment, tp, offset)

    def _lost_error(self) -> CommitFailed:
        return CommitFailed(
            f"group {self.group!r}: this member lost its partitions (its session expired), "
            f"so it may not commit for them; whoever owns them now reads from the last "
            f"committed offset"
        )

    def group_metadata(self) -> Any | None:
        """This member's generation for KIP-447 fencing, or None before it joined;
        CommitFailed after it lost its partitions."""
        raise NotImplementedError

    def _check_open(self) -> None:
        raise NotImplementedError
