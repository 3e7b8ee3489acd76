"""The unit of data flowing through a topology."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Tuple"]


class Tuple:
    """A list of values with named fields, and where it came from.

    ``tup["word"]`` reads a field by name, ``tup[0]`` by position. ``source`` is the
    emitting component, ``source_task`` its task id, ``stream`` the stream it was
    emitted on. ``message_id`` maps each spout-tuple root this tuple belongs to onto its
    edge id (empty when untracked). Tuples are immutable by contract: do not change
    ``values`` after emitting them.
    """

    __slots__ = ("_ack_val", "_fields", "_roots", "source", "source_task", "stream", "values")

    def __init__(
        self,
        values: Sequence[Any],
        stream: str,
        source: str,
        source_task: int,
        fields: Mapping[str, int],
        roots: dict[int, int] | None,
    ) -> None:
        self.values = values
        self.stream = stream
        self.source = source
        self.source_task = source_task
        self._fields = fields
        self._roots = roots  # root id -> edge id; None when untracked
        self._ack_val = 0  # XOR of the edge ids of tuples anchored to this one

    def __getitem__(self, key: str | int) -> Any:
        if type(key) is str:
            try:
                return self.values[self._fields[key]]
            except KeyError:
                raise KeyError(
                    f"{self.source!r} declares no field {key!r} on stream {self.stream!r}; "
                    f"fields are {list(self._fields)}"
                ) from None
        return self.values[key]  # type: ignore[index]

    def __len__(self) -> int:
        return len(self.values)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self._fields)

    @property
    def message_id(self) -> Mapping[int, int]:
        return dict(self._roots) if self._roots else {}

    def __repr__(self) -> str:
        return (
            f"Tuple(source={self.source!r}, task={self.source_task}, stream={self.stream!r}, "
            f"values={list(self.values)!r})"
        )
