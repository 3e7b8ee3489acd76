"""Errors of the standard topologies (under the compute tier's root).

    SquallError
    └── compute.ComputeError
        └── SchemaMismatchError   squall/schema.py has columns a topology cannot compute

Unparseable *events* are not errors: the parser returns a reason and the event goes to
``logs.deadletter``. Errors here mean a contract between stages was broken.
"""

from __future__ import annotations

from squall.compute.exceptions import ComputeError

__all__ = ["SchemaMismatchError"]


class SchemaMismatchError(ComputeError):
    """squall/schema.py declares columns that a standard topology does not compute."""
