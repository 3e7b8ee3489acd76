"""Squall: a real-time log analytics pipeline, one import namespace.

The kernel here (settings, the error root, schema, topics) sits under the broker
(``squall.broker``), the stages (``squall.ingest``, ``squall.compute``, ``squall.serve``,
``squall.deploy``, kept in the repository's top-level folders) and the app shell (the
CLI, the demo). Each imports only from the layers below it (docs/architecture.md).
"""

from squall.exceptions import SquallError

__all__ = ["SquallError", "__version__"]

__version__ = "0.1.0"
