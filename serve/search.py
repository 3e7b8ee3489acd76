"""Raw-event search (design.md "Search API"): the request, its validation, paging, and the
interface every event store implements.

A request body is shape-checked by ``SearchModel`` and resolved by ``parse_search`` into a
``SearchQuery``; stores only see valid queries. Semantics every store implements:

* ``interval`` is half-open, ``[start, end)``, over the event's own time (milliseconds,
  not its minute); ISO-8601 as in /api/v1/query.
* ``filter`` is /api/v1/query's (serve.query.parse_filter): ``service``, ``method`` and
  ``route`` match the value; ``status`` the number (a value that is not one matches
  nothing); ``status_class`` ``"5xx"`` matches statuses 500..599.
* ``contains``: the raw line holds the text, ignoring case (Unicode lower case); ``regex``:
  the pattern matches somewhere in the line (``re.search``; the syntax both RE2 (DuckDB)
  and Java (Druid) read: no look-around or back-references). At most one of the two.
* newest first: by ``time`` descending, then ``id`` descending, so the order is total (ids
  are unique, squall.schema) and paging never repeats or skips an event.
* ``limit`` events per page (default ``DEFAULT_LIMIT``, at most ``MAX_LIMIT``); ``next`` is
  an opaque cursor (the last event's time and id) when more may follow, else null.
  Give it back as ``cursor`` with the same query for the next page.
"""

from __future__ import annotations

import base64
import binascii
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from squall.schema import EVENT_COLUMNS
from squall.serve.exceptions import InvalidQuery
from squall.serve.intervals import format_time, parse_interval
from squall.serve.query import Filter, check_shape, parse_filter

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_PATTERN",
    "EventRow",
    "EventStore",
    "SearchModel",
    "SearchQuery",
    "decode_cursor",
    "encode_cursor",
    "event_json",
    "parse_search",
    "search_page",
    "to_ms",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
"""Most events one page may hold; an unbounded search pages through them."""
MAX_PATTERN = 1_000
"""Longest ``contains`` or ``regex``, in characters."""

EventRow = tuple[Any, ...]
"""A stored event: its values in ``EVENT_COLUMNS`` order (``time`` in epoch ms)."""

_NAMES = tuple(c.name for c in EVENT_COLUMNS)
_TIME = _NAMES.index("time")
_ID = _NAMES.index("id")
_EPOCH = datetime(1970, 1, 1)
_FIELDS = ("interval", "filter", "contains", "regex", "limit", "cursor")
_CLASS = re.compile(r"[1-5]xx")


class SearchModel(BaseModel):
    """The JSON body of ``POST /api/v1/search`` (shape only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: str = Field(description="'start/end', ISO-8601, end exclusive")
    filter: dict[str, StrictStr | StrictInt | list[StrictStr | StrictInt]] | None = None
    contains: StrictStr | None = Field(default=None, max_length=MAX_PATTERN)
    regex: StrictStr | None = Field(default=None, max_length=MAX_PATTERN)
    limit: StrictInt = Field(default=DEFAULT_LIMIT)
    cursor: StrictStr | None = None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated search. Times are epoch ms (``[start_ms, end_ms)``); ``after`` is the
    cursor's (time, id): only events strictly older in (time, id) order come."""

    start_ms: int
    end_ms: int
    filter: Filter = ()
    contains: str | None = None
    regex: str | None = None
    limit: int = DEFAULT_LIMIT
    after: tuple[int, str] | None = None

    @property
    def statuses(self) -> tuple[int, ...] | None:
        """The ``status`` filter as numbers (values that are none dropped), else None."""
        for dim, values in self.filter:
            if dim == "status":
                return tuple(sorted({int(v) for v in values if v.isdigit()}))
        return None

    @property
    def status_classes(self) -> tuple[int, ...] | None:
        """The ``status_class`` filter as hundreds (``5xx`` -> 5), else None."""
        for dim, values in self.filter:
            if dim == "status_class":
                return tuple(sorted({int(v[0]) for v in values if _CLASS.fullmatch(v)}))
        return None

    @property
    def string_filter(self) -> Filter:
        """The filter on string columns (service, method, route)."""
        return tuple((d, v) for d, v in self.filter if d not in ("status", "status_class"))


def to_ms(value: datetime) -> int:
    """Naive UTC -> epoch ms (floored)."""
    return (value - _EPOCH) // timedelta(milliseconds=1)


def encode_cursor(time_ms: int, event_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([time_ms, event_id])).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, str]:
    """The (time, id) a cursor stands for; ``InvalidQuery`` if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidQuery(
            "cursor is not one this API gave out; pass the previous page's 'next' unchanged, "
            "or leave 'cursor' out for the first page"
        ) from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or type(value[0]) is not int
        or type(value[1]) is not str
    ):
        raise InvalidQuery(
            "cursor is not one this API gave out; pass the previous page's 'next' unchanged"
        )
    return value[0], value[1]


def parse_search(body: Any) -> SearchQuery:
    """Validate a decoded JSON body; raises ``InvalidQuery`` (a 400) saying what is allowed."""
    model = check_shape(body, _FIELDS, SearchModel, "search")
    start, end = parse_interval(model.interval)
    if model.contains is not None and model.regex is not None:
        raise InvalidQuery("give 'contains' or 'regex', not both")
    if model.regex is not None:
        try:
            re.compile(model.regex)
        except re.error as exc:
            raise InvalidQuery(f"regex {model.regex!r} is not valid: {exc}") from exc
        if re.search(r"\(\?[=!<]|\\[1-9]", model.regex):
            raise InvalidQuery(
                f"regex {model.regex!r} uses look-around or a back-reference, which the "
                "stores cannot run; rewrite it without them"
            )
    if not 1 <= model.limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit {model.limit} is out of range; allowed: 1..{MAX_LIMIT}")
    return SearchQuery(
        to_ms(start),
        to_ms(end),
        parse_filter(model.filter),
        model.contains if model.contains else None,
        model.regex if model.regex else None,
        model.limit,
        decode_cursor(model.cursor) if model.cursor is not None else None,
    )


def event_json(row: EventRow) -> dict[str, Any]:
    """A stored event -> the API's event object (``timestamp`` ISO-8601 UTC first)."""
    out: dict[str, Any] = {}
    for name, value in zip(_NAMES, row, strict=True):
        if name == "time":
            out["timestamp"] = format_time(_EPOCH + timedelta(milliseconds=value))
        else:
            out[name] = value
    return out


def search_page(store: EventStore, query: SearchQuery) -> dict[str, Any]:
    """``{"events": [...], "next": cursor | None}``: one page of ``query`` from ``store``."""
    rows = store.search(query)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    last = rows[-1] if more else None
    return {
        "events": [event_json(r) for r in rows],
        "next": encode_cursor(last[_TIME], last[_ID]) if last is not None else None,
    }


class EventStore(ABC):
    """Where raw events are kept and searched (DuckDB: serve.duckdb_events; Druid:
    serve.druid_events). Both pass tests/serve/test_search.py's contract."""

    @abstractmethod
    def search(self, query: SearchQuery) -> list[EventRow]:
        """Up to ``query.limit + 1`` matching events strictly after ``query.after``, newest
        first (time, then id, descending)."""

    def write_with_offsets(
        self, events: Sequence[EventRow], topic: str, offsets: Mapping[int, int]
    ) -> None:
        """Add events and set, per partition of ``topic``, the next offset to load; all or
        nothing (stores that load themselves, as Druid does, refuse)."""
        raise NotImplementedError(f"{type(self).__name__} is not loaded by Squall's loader")

    def offsets(self, topic: str) -> dict[int, int]:
        """Per partition of ``topic``, the next offset to load."""
        raise NotImplementedError(f"{type(self).__name__} is not loaded by Squall's loader")
