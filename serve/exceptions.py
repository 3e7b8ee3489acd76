"""Errors of the serve stage.

SquallError
└── ServeError
    ├── InvalidQuery            the query cannot be answered as asked -> HTTP 400
    │   ├── UnknownName         a query type, dimension, metric or granularity we do not have
    │   ├── BadInterval         the interval is not "start/end" ISO-8601 with start < end
    │   └── TooManyRows         the answer would exceed the row limit
    ├── QueryTimeout            the query ran past SQUALL_QUERY_TIMEOUT -> HTTP 408
    └── StoreError              the store failed (DuckDB / Druid error, translated)
        └── StoreUnavailable    the store cannot be opened or reached now -> HTTP 503

Every ``InvalidQuery`` message says what was wrong and what is allowed, because it goes
straight back to the user in the 400 response. A record that is not an aggregate row
raises the kernel's ``squall.exceptions.RowFormatError`` (squall.rows checks rows for
every stage).
"""

from __future__ import annotations

from squall.exceptions import SquallError

__all__ = [
    "BadInterval",
    "InvalidQuery",
    "QueryTimeout",
    "ServeError",
    "StoreError",
    "StoreUnavailable",
    "TooManyRows",
    "UnknownName",
]


class ServeError(SquallError):
    """Something went wrong in a store or the query API."""


class InvalidQuery(ServeError):
    """The query is malformed or asks for something the API does not offer (HTTP 400)."""


class UnknownName(InvalidQuery):
    """A name (query type, granularity, dimension, metric, field) is not known."""


class BadInterval(InvalidQuery):
    """The interval is not ``start/end`` in ISO-8601, or start is not before end."""


class TooManyRows(InvalidQuery):
    """The result would have more rows than the limit; narrow the query."""


class QueryTimeout(ServeError):
    """The query ran longer than the timeout (``SQUALL_QUERY_TIMEOUT``) and was stopped
    (HTTP 408); narrow it (shorter interval, coarser granularity, a filter) or raise the
    timeout."""


class StoreError(ServeError):
    """The store failed to write or answer; the message says which operation."""


class StoreUnavailable(StoreError):
    """The store cannot be opened or reached now; retry later or check the URL."""
