"""Runtime settings of a topology, with Storm's meanings and names made Pythonic."""

from __future__ import annotations

from dataclasses import dataclass

from squall.compute.exceptions import TopologyError

__all__ = ["MAX_WORKERS", "Config"]

MAX_WORKERS = 256
"""A tuple tree's root id names its owning worker in its low byte (compute.transfer)."""


@dataclass(frozen=True)
class Config:
    """How a topology runs.

    message_timeout: seconds a spout tuple's tree may stay incomplete before the spout's
        ``fail`` is called (Storm's topology.message.timeout.secs, default 30).
    max_spout_pending: tracked trees a spout task may have in flight; ``next_tuple`` is
        not called while that many are pending. None means unbounded (risky in Python:
        memory then grows with the backlog), so the default is 10,000.
    acking: False turns tracking off (Storm's topology.acker.executors=0): a spout
        tuple with a ``msg_id`` is acked as soon as it is emitted.
    checkpoint_interval: seconds between checkpoints (Storm's
        topology.state.checkpoint.interval), or None for none. At a checkpoint every
        emitted tuple has been processed, spouts report their position
        (``Spout.snapshot``) and bolts commit in topological order (``Bolt.pre_commit``):
        the consistent cut that exactly-once sinks commit together with their output.
    spout_batch: how many ``next_tuple`` calls a spout task gets per scheduling round
        before the bolts run; larger batches amortise the loop, smaller ones cut latency.
    workers: worker processes a ``ProcessCluster`` spreads the topology's tasks over
        (Storm's topology.workers, at most 256; not with checkpoint_interval).
        ``LocalCluster`` runs one worker.
    """

    message_timeout: float = 30.0
    max_spout_pending: int | None = 10_000
    acking: bool = True
    spout_batch: int = 128
    checkpoint_interval: float | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        if self.message_timeout <= 0:
            raise TopologyError(f"message_timeout must be > 0 seconds, got {self.message_timeout}")
        if self.max_spout_pending is not None and self.max_spout_pending < 1:
            raise TopologyError(
                f"max_spout_pending must be >= 1 or None, got {self.max_spout_pending}"
            )
        if self.checkpoint_interval is not None and self.checkpoint_interval <= 0:
            raise TopologyError(
                f"checkpoint_interval must be > 0 seconds or None, got {self.checkpoint_interval}"
            )
        if self.spout_batch < 1:
            raise TopologyError(f"spout_batch must be >= 1, got {self.spout_batch}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise TopologyError(f"workers must be between 1 and {MAX_WORKERS}, got {self.workers}")
