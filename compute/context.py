"""What a task knows about itself and its topology."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from squall.compute.config import Config

__all__ = ["Checkpoint", "TopologyContext"]


@dataclass(frozen=True)
class TopologyContext:
    """Handed to ``Spout.open`` and ``Bolt.prepare``: one per task.

    task_id is unique in the topology; task_index runs 0..parallelism-1 within the
    component (use it to split work, e.g. partitions among spout tasks); worker_index
    says which worker process runs the task.
    """

    topology: str
    component: str
    task_id: int
    task_index: int
    parallelism: int
    config: Config
    component_tasks: Mapping[str, Sequence[int]] = field(repr=False)
    request_checkpoint: Callable[[], object] | None = field(default=None, repr=False)
    """Take a checkpoint now (None when the topology has no checkpoint_interval). A
    spout calls it when it must give up partitions: their progress is committed
    before another worker takes them over."""
    worker_index: int = 0
    """Which worker of the topology runs this task (0..workers-1): e.g. a transactional
    sink's id must differ between workers and stay the same across restarts."""

    def tasks_of(self, component: str) -> Sequence[int]:
        """Task ids of ``component`` (for emit_direct)."""
        return self.component_tasks[component]


@dataclass(frozen=True)
class Checkpoint:
    """A consistent cut of a worker: ``positions[spout_component][task_id]`` is what
    each spout task's ``snapshot`` returned, and every tuple emitted before it has been
    processed by every bolt. ``id`` grows by one per checkpoint."""

    id: int
    positions: Mapping[str, Mapping[int, object]]
