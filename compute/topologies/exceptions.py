"""Errors of the standard topologies.

    SquallError
    └── TopologyError                a standard topology could not do its job
        └── RowFormatError           bytes on ``logs.metrics`` are not an aggregate row

Unparseable *events* are not errors: the parser returns a reason and the event goes to
``logs.deadletter``. Errors here mean a contract between stages was broken.
"""

from __future__ import annotations

from squall.exceptions import SquallError

__all__ = ["RowFormatError", "TopologyError"]


class TopologyError(SquallError):
    """A standard topology (compute/topologies/) could not do its job."""


class RowFormatError(TopologyError):
    """A ``logs.metrics`` record is not an aggregate row of squall/schema.py."""
