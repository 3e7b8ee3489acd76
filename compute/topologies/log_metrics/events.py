"""Parsed events -> ``logs.events`` records: NDJSON, ``squall.schema.EVENT_COLUMNS`` each.

``EventEncoder.add(parsed, headers, event_id, body)`` encodes one event to a JSON line
and files it under its service; ``drain()`` hands out the records (up to
``EVENTS_PER_RECORD`` lines each, keyed by service, so one service's events stay in one
``logs.events`` partition, in order) and starts over.

The per-event encoder is compiled once, at import, from ``EVENT_COLUMNS`` and
``SOURCES`` (where each column comes from), like the aggregator's loop: a column added to
the schema without a source here fails the import with ``SchemaMismatchError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from squall.compute.topologies.exceptions import SchemaMismatchError
from squall.compute.topologies.log_metrics.parse import ParsedEvent
from squall.schema import EVENT_COLUMNS, EVENTS_PER_RECORD

__all__ = ["ENCODER_SOURCE", "SOURCES", "EventEncoder"]

SOURCES: Mapping[str, str] = {
    "time": "parsed[0]",
    "service": "parsed[1]",
    "method": "parsed[2]",
    "route": "parsed[3]",
    "status": "parsed[4]",
    "bytes": "parsed[5]",
    "latency_ms": "parsed[6]",
    "user": "parsed[7]",
    "host": "headers.get('host')",
    "id": "event_id",
    "line": "body",
}
"""Each event column as a Python expression over ``parsed`` (a ParsedEvent), ``headers``
(the Flume headers), ``event_id`` and ``body`` (the raw line)."""

if tuple(ParsedEvent._fields[:8]) != (
    "time_ms",
    "service",
    "method",
    "route",
    "status",
    "bytes",
    "latency_ms",
    "user",
):
    raise SchemaMismatchError(
        "ParsedEvent's fields moved; fix SOURCES in compute/topologies/log_metrics/events.py"
    )
_missing = [c.name for c in EVENT_COLUMNS if c.name not in SOURCES]
if _missing:
    raise SchemaMismatchError(
        f"event columns {_missing} (squall/schema.py EVENT_COLUMNS) have no source; add "
        "them to SOURCES in compute/topologies/log_metrics/events.py"
    )

ENCODER_SOURCE = (
    "def encode(parsed, headers, event_id, body):\n"
    "    return dumps({"
    + ", ".join(f"{c.name!r}: {SOURCES[c.name]}" for c in EVENT_COLUMNS)
    + "})\n"
)
_namespace: dict[str, Any] = {"dumps": orjson.dumps}
exec(compile(ENCODER_SOURCE, "<log-events encoder>", "exec"), _namespace)
encode: Callable[[ParsedEvent, Mapping[str, str], str, str], bytes] = _namespace["encode"]


class EventEncoder:
    """Collects encoded events per service between drains. Not thread-safe (one per task)."""

    __slots__ = ("_by_service",)

    def __init__(self) -> None:
        self._by_service: dict[str, list[bytes]] = {}

    def add(
        self, parsed: ParsedEvent, headers: Mapping[str, str], event_id: str, body: str
    ) -> None:
        """Encode one event. Hot path: one dict, one ``orjson.dumps``, one list append."""
        lines = self._by_service.get(parsed[1])
        if lines is None:
            lines = self._by_service[parsed[1]] = []
        lines.append(encode(parsed, headers, event_id, body))

    def drain(self) -> list[tuple[bytes, bytes]]:
        """``(key, value)`` records of the events added since the last drain; then reset."""
        by_service, self._by_service = self._by_service, {}
        out: list[tuple[bytes, bytes]] = []
        step = EVENTS_PER_RECORD
        for service, lines in by_service.items():
            key = service.encode()
            for i in range(0, len(lines), step):
                out.append((key, b"\n".join(lines[i : i + step])))
        return out
