"""Errors of the compute tier.

    SquallError
    └── ComputeError
        ├── TopologyError      the topology is not valid; nothing was started
        ├── EmitError          an emit broke the declared outputs (unknown stream, wrong arity...)
        ├── IdleTimeout        wait_idle ran out of time with tuple trees still pending
        └── FailedException    raise it in ``Bolt.process`` to fail the input tuple on purpose

Any other exception raised by ``Bolt.process`` also fails the tuple; it is logged with
the component and task, and the topology keeps running (as in Storm).
"""

from __future__ import annotations

from squall.exceptions import SquallError

__all__ = ["ComputeError", "EmitError", "FailedException", "IdleTimeout", "TopologyError"]


class ComputeError(SquallError):
    """Something went wrong in a topology or the runtime."""


class TopologyError(ComputeError):
    """The topology cannot run as declared; the message says which component and why."""


class EmitError(ComputeError):
    """A component emitted something its declared outputs do not allow."""


class IdleTimeout(ComputeError, TimeoutError):
    """``wait_idle`` timed out: tuples were still in flight or trees still pending."""


class FailedException(ComputeError):
    """Raise in ``Bolt.process`` to fail the input tuple without logging a traceback."""
