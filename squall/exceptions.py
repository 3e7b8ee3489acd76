"""The root of every error Squall raises on purpose.

    SquallError
    ├── ConfigError                  bad settings or flags (squall.settings)
    ├── RowFormatError               a record is not an aggregate row (squall.rows)
    ├── broker.BrokerError           the broker role (squall.broker.exceptions)
    ├── compute.ComputeError         topologies and the runtime (compute.exceptions)
    ├── ingest.IngestError           the collector (ingest.exceptions)
    └── serve.ServeError             stores and the query API (serve.exceptions)

Catch ``SquallError`` to handle anything Squall reports; third-party errors (Kafka,
Druid, DuckDB, SQLite) are translated into these at the edge with ``raise ... from``.
"""

from __future__ import annotations

__all__ = ["ConfigError", "RowFormatError", "SquallError"]


class SquallError(Exception):
    """Base class of every error Squall raises deliberately."""


class ConfigError(SquallError):
    """A setting or flag has a value Squall cannot use; the message names it."""


class RowFormatError(SquallError, ValueError):
    """A ``logs.metrics`` record is not an aggregate row of squall.schema; the message
    names the field. Stores refuse the whole batch; the loader skips such records."""
