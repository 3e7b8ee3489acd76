"""Errors of the broker role.

SquallError
└── BrokerError
    ├── BrokerUnavailable     cannot reach or open the broker; retry later
    ├── UnknownTopic          the topic does not exist; create it first
    ├── UnknownPartition      the partition number is out of the topic's range
    ├── IllegalState          a call that the object's current state does not allow
    ├── CommitFailed          an offset commit for a partition this member no longer owns
    └── TransactionAborted    the transaction did not commit; nothing in it is visible
        └── ProducerFenced    a newer producer with the same transactional_id took over
"""

from __future__ import annotations

from squall.exceptions import SquallError

__all__ = [
    "BrokerError",
    "BrokerUnavailable",
    "CommitFailed",
    "IllegalState",
    "ProducerFenced",
    "TransactionAborted",
    "UnknownPartition",
    "UnknownTopic",
]


class BrokerError(SquallError):
    """Something went wrong talking to the broker."""


class BrokerUnavailable(BrokerError):
    """The broker cannot be reached or opened now; the operation may succeed later."""


class UnknownTopic(BrokerError):
    """A topic was used before it was created."""


class UnknownPartition(BrokerError):
    """A partition number outside ``0 .. partitions(topic) - 1`` was given."""


class IllegalState(BrokerError):
    """A call the object's state does not allow (e.g. ``send`` on a transactional producer
    outside a transaction, or use after ``close``); a programming error, not a retry case."""


class CommitFailed(BrokerError):
    """Offsets were not committed: the partition now belongs to another group member, whose
    reads start from the last committed offset. Records since then will be read again."""


class TransactionAborted(BrokerError):
    """A transaction was aborted (fenced, timed out or failed); none of its writes are visible."""


class ProducerFenced(TransactionAborted):
    """A newer producer opened with the same ``transactional_id``; this one is a zombie and
    can never commit again. Close it (the newer one carries on)."""
