"""The sink contract: deliver a batch durably, or raise.

The sink runner calls ``start`` (again after a failure, until it succeeds), then
``process`` with batches taken from the channel in one transaction. ``process``
returns only when the whole batch is durable downstream; if it raises, the runner rolls
the take back and retries the same events later, so a sink may see a batch twice
(at-least-once) but never loses one. All calls come from the runner's one thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from squall.ingest.event import Event

__all__ = ["Sink"]


class Sink(ABC):
    """Where events go after the channel."""

    name = "sink"

    def start(self) -> None:  # noqa: B027 - optional hook
        """Connect; may raise, and is retried with backoff by the runner."""

    @abstractmethod
    def process(self, events: list[Event]) -> None:
        """Deliver ``events`` durably or raise (``SinkError`` or the cause)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Release connections; ``start`` may be called again afterwards."""
