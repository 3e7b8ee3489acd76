"""Errors of the serve stage.

SquallError
└── ServeError
"""

from __future__ import annotations

from squall.exceptions import SquallError

__all__ = ["ServeError"]


class ServeError(SquallError):
    """Something went wrong in a store or the query API."""
