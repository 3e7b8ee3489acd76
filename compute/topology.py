"""Building a topology: components, their parallelism, and who subscribes to whom.

``Topology.build()`` validates the whole graph and returns a frozen ``TopologySpec``;
``LocalCluster.submit`` builds for you. Nothing runs until then, so declarations may
come in any order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from squall.compute.bolt import Bolt
from squall.compute.component import Component
from squall.compute.exceptions import TopologyError
from squall.compute.grouping import Grouping
from squall.compute.spout import Spout

__all__ = ["BoltDeclarer", "ComponentSpec", "Subscription", "Topology", "TopologySpec"]

DEFAULT_STREAM = "default"


@dataclass(frozen=True)
class Subscription:
    """``component`` receives ``source``'s ``stream`` through ``grouping``."""

    source: str
    stream: str
    grouping: Grouping


@dataclass
class ComponentSpec:
    """One declared spout or bolt."""

    name: str
    factory: Callable[[], Component]
    parallelism: int
    is_spout: bool
    outputs: dict[str, tuple[str, ...]]
    inputs: list[Subscription] = field(default_factory=list)
    task_ids: list[int] = field(default_factory=list)

    def make(self) -> Component:
        """A fresh instance for one task."""
        return self.factory()


@dataclass(frozen=True)
class TopologySpec:
    """A validated topology, ready to run. Task ids are assigned, 1-based."""

    name: str
    components: Mapping[str, ComponentSpec]

    @property
    def spouts(self) -> list[ComponentSpec]:
        return [c for c in self.components.values() if c.is_spout]

    @property
    def bolts(self) -> list[ComponentSpec]:
        return [c for c in self.components.values() if not c.is_spout]

    def subscribers(self, source: str, stream: str) -> list[tuple[ComponentSpec, Grouping]]:
        """Who receives ``source``'s ``stream``, in declaration order."""
        return [
            (c, sub.grouping)
            for c in self.components.values()
            for sub in c.inputs
            if sub.source == source and sub.stream == stream
        ]


def _normalise_outputs(owner: str, outputs: Any) -> dict[str, tuple[str, ...]]:
    if isinstance(outputs, Mapping):
        streams = {str(k): tuple(v) for k, v in outputs.items()}
    else:
        streams = {DEFAULT_STREAM: tuple(outputs)} if outputs else {}
    for stream, fields in streams.items():
        if stream.startswith("__"):
            raise TopologyError(
                f"{owner}: stream names starting with '__' are reserved: {stream!r}"
            )
        if len(set(fields)) != len(fields):
            raise TopologyError(f"{owner}: stream {stream!r} declares a field twice: {fields}")
        if not all(isinstance(f, str) and f for f in fields):
            raise TopologyError(f"{owner}: field names must be non-empty strings: {fields}")
    return streams


def _factory(owner: str, component: Any, base: type) -> tuple[Callable[[], Any], type]:
    """Accept a class, a zero-argument factory, or an instance (deep-copied per task)."""
    if isinstance(component, type):
        if not issubclass(component, base):
            raise TopologyError(f"{owner}: {component.__name__} is not a {base.__name__} subclass")
        return component, component
    if isinstance(component, base):
        return _Copies(component), type(component)
    if callable(component):
        probe = component()
        if not isinstance(probe, base):
            raise TopologyError(f"{owner}: factory returned {probe!r}, not a {base.__name__}")
        return component, type(probe)
    raise TopologyError(f"{owner}: expected a {base.__name__} class, instance or factory")


class _Copies:
    """A factory of deep copies of one prototype instance; unlike a closure it pickles,
    so the component can be sent to a worker process (compute.process_cluster)."""

    __slots__ = ("prototype",)

    def __init__(self, prototype: Any) -> None:
        self.prototype = prototype

    def __call__(self) -> Any:
        return copy.deepcopy(self.prototype)


class BoltDeclarer:
    """Returned by ``Topology.bolt``: declare the bolt's inputs, one grouping per source.

    Every method takes ``stream`` (default ``"default"``) and returns the declarer, so
    calls chain: ``topo.bolt("b", B).shuffle_grouping("s").all_grouping("t", stream="x")``.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self._spec = spec

    def _add(self, source: str, stream: str, grouping: Grouping) -> BoltDeclarer:
        self._spec.inputs.append(Subscription(source, stream, grouping))
        return self

    def shuffle_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        return self._add(source, stream, Grouping("shuffle"))

    def fields_grouping(
        self, source: str, fields: Sequence[str], stream: str = DEFAULT_STREAM
    ) -> BoltDeclarer:
        return self._add(source, stream, Grouping("fields", _field_tuple(fields)))

    def partial_key_grouping(
        self, source: str, fields: Sequence[str], stream: str = DEFAULT_STREAM
    ) -> BoltDeclarer:
        return self._add(source, stream, Grouping("partial_key", _field_tuple(fields)))

    def all_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        return self._add(source, stream, Grouping("all"))

    def global_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        return self._add(source, stream, Grouping("global"))

    def none_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        return self._add(source, stream, Grouping("none"))

    def direct_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        return self._add(source, stream, Grouping("direct"))

    def local_or_shuffle_grouping(self, source: str, stream: str = DEFAULT_STREAM) -> BoltDeclarer:
        return self._add(source, stream, Grouping("local_or_shuffle"))

    def custom_grouping(
        self, source: str, grouping: Any, stream: str = DEFAULT_STREAM
    ) -> BoltDeclarer:
        return self._add(source, stream, Grouping("custom", custom=grouping))


def _field_tuple(fields: Sequence[str]) -> tuple[str, ...]:
    return (fields,) if isinstance(fields, str) else tuple(fields)


class Topology:
    """A graph of spouts and bolts under a name.

    ``spout(name, Spout, parallelism)`` and ``bolt(name, Bolt, parallelism)`` take a
    component class, a zero-argument factory, or an instance (copied per task).
    """

    def __init__(self, name: str) -> None:
        if not name:
            raise TopologyError("a topology needs a non-empty name")
        self.name = name
        self._components: dict[str, ComponentSpec] = {}

    def spout(self, name: str, spout: Any, parallelism: int = 1) -> None:
        self._declare(name, spout, parallelism, is_spout=True)

    def bolt(self, name: str, bolt: Any, parallelism: int = 1) -> BoltDeclarer:
        return BoltDeclarer(self._declare(name, bolt, parallelism, is_spout=False))

    def _declare(
        self, name: str, component: Any, parallelism: int, is_spout: bool
    ) -> ComponentSpec:
        kind = "spout" if is_spout else "bolt"
        if not isinstance(name, str) or not name or name.startswith("__"):
            raise TopologyError(
                f"{kind} name {name!r} must be a non-empty string not starting '__'"
            )
        if name in self._components:
            raise TopologyError(f"component {name!r} is declared twice; names must be unique")
        if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
            raise TopologyError(f"{kind} {name!r}: parallelism must be an integer >= 1")
        factory, cls = _factory(f"{kind} {name!r}", component, Spout if is_spout else Bolt)
        spec = ComponentSpec(
            name=name,
            factory=factory,
            parallelism=parallelism,
            is_spout=is_spout,
            outputs=_normalise_outputs(f"{kind} {name!r}", getattr(cls, "outputs", ())),
        )
        self._components[name] = spec
        return spec

    def build(self) -> TopologySpec:
        """Validate and freeze; raises TopologyError saying what is wrong."""
        comps = self._components
        if not any(c.is_spout for c in comps.values()):
            raise TopologyError(f"topology {self.name!r} has no spout")
        for c in comps.values():
            if not c.is_spout and not c.inputs:
                raise TopologyError(f"bolt {c.name!r} subscribes to nothing; add a grouping")
            for sub in c.inputs:
                self._check_subscription(c, sub)
        self._check_reachable()
        next_id = 1
        for c in comps.values():
            c.task_ids = list(range(next_id, next_id + c.parallelism))
            next_id += c.parallelism
        return TopologySpec(self.name, dict(comps))

    def _check_subscription(self, c: ComponentSpec, sub: Subscription) -> None:
        where = f"bolt {c.name!r}: {sub.grouping.kind}_grouping on {sub.source!r}"
        source = self._components.get(sub.source)
        if source is None:
            raise TopologyError(
                f"{where}: no component {sub.source!r}; known: {sorted(self._components)}"
            )
        fields = source.outputs.get(sub.stream)
        if fields is None:
            raise TopologyError(
                f"{where}: {sub.source!r} declares no stream {sub.stream!r}; "
                f"its streams are {sorted(source.outputs)}"
            )
        if sub.grouping.kind in ("fields", "partial_key"):
            if not sub.grouping.fields:
                raise TopologyError(f"{where}: name at least one field")
            missing = [f for f in sub.grouping.fields if f not in fields]
            if missing:
                raise TopologyError(
                    f"{where}: stream {sub.stream!r} has no field(s) {missing}; "
                    f"it declares {list(fields)}"
                )
        if sub.grouping.kind == "custom":
            custom = sub.grouping.custom
            if not (callable(custom) or hasattr(custom, "choose_tasks")):
                raise TopologyError(
                    f"{where}: a custom grouping is a callable (target_tasks, values) -> "
                    f"task ids, or an object with choose_tasks(task_id, values)"
                )

    def _check_reachable(self) -> None:
        reached = {c.name for c in self._components.values() if c.is_spout}
        grew = True
        while grew:
            grew = False
            for c in self._components.values():
                if c.name not in reached and any(s.source in reached for s in c.inputs):
                    reached.add(c.name)
                    grew = True
        stranded = sorted(set(self._components) - reached)
        if stranded:
            raise TopologyError(
                f"component(s) {stranded} cannot be reached from any spout; "
                f"subscribe them to a spout or to a bolt fed by one"
            )
