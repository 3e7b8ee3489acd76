"""Placing a topology's tasks on worker processes (Storm's EvenScheduler).

Tasks are dealt round-robin over the workers in task-id order, so the tasks of each
component spread evenly: a component with at least as many tasks as there are workers
has a task in every worker, and a spout's tree crosses processes as soon as a
downstream component has tasks elsewhere.
"""

from __future__ import annotations

from squall.compute.topology import TopologySpec

__all__ = ["even_assignment"]


def even_assignment(spec: TopologySpec, workers: int) -> dict[int, int]:
    """Task id -> worker index (0..workers-1), dealt round-robin in task-id order."""
    tasks = sorted(t for c in spec.components.values() for t in c.task_ids)
    return {task: i % workers for i, task in enumerate(tasks)}
