"""What the user's components (``Spout``, ``Bolt``) share, and their contract.

Threading contract: all calls on one task (``open``/``prepare``, ``next_tuple``,
``process``, ``process_tick``, ``ack``, ``fail``, ``close``/``cleanup``) happen on one
thread, one at a time, so a component needs no locks for its own state. Tasks of one
worker share that thread, so no call may block: ``next_tuple`` returns at once when
there is nothing to emit, and ``process`` should not wait on I/O longer than it must.

Each task gets its own instance, made from the class (or factory) given to the
topology; ``emit`` and friends work from ``open``/``prepare`` on, through the collector
the runtime attaches (``squall.compute.collector``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

__all__ = ["Component", "Outputs"]

Outputs = Sequence[str] | Mapping[str, Sequence[str]]


class Component:
    """What spouts and bolts share: declared outputs.

    ``outputs`` is a list of field names for the ``default`` stream, or a mapping
    ``{stream: [fields]}`` for named streams. Stream names starting with ``__`` are
    reserved for the system.
    """

    outputs: ClassVar[Outputs] = ()
