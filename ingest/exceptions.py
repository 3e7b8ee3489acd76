"""Errors of the collector.

SquallError
└── IngestError
"""

from __future__ import annotations

from squall.exceptions import SquallError

__all__ = ["IngestError"]


class IngestError(SquallError):
    """Something went wrong in the collector."""
