"""Errors of the broker role.

SquallError
└── BrokerError
    ├── BrokerUnavailable     cannot reach or open the broker; retry later
    ├── UnknownTopic          the topic does not exist; create it first
    └── TransactionAborted    the transaction did not commit; nothing in it is visible
"""

from __future__ import annotations

from squall.exceptions import SquallError

__all__ = ["BrokerError", "BrokerUnavailable", "TransactionAborted", "UnknownTopic"]


class BrokerError(SquallError):
    """Something went wrong talking to the broker."""


class BrokerUnavailable(BrokerError):
    """The broker cannot be reached or opened now; the operation may succeed later."""


class UnknownTopic(BrokerError):
    """A topic was used before it was created."""


class TransactionAborted(BrokerError):
    """A transaction was aborted (fenced, timed out or failed); none of its writes are visible."""
