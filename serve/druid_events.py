"""The Druid event store: raw events in datasource ``log_events`` (ingested by its own Kafka
supervisor from ``logs.events``, squall.druid_spec), searched with native ``scan`` queries.

A search (serve.search gives the semantics) becomes one scan: the interval (its end cut
to the cursor's time + 1 ms), the filter (``selector``/``in`` on strings, ``in`` on the
``status`` long, numeric ``bound`` ranges for ``status_class``), a case-insensitive
``contains`` search filter or a ``regex`` filter (Java's ``find``) on ``line``, the
cursor's ``(time, id)`` as ``not (time = t and id >= i)``, ``order: descending`` (by
``__time``) and ``limit + 1``. Scan orders by time only, so when the page is full a
second scan fetches every match at the page's last millisecond, and the page is cut
after sorting by (time, id) here: the same total order as on DuckDB.

HTTP goes through httpx to the router or broker's ``/druid/v2``; errors are translated at
the edge: unreachable -> ``StoreUnavailable``, rejected -> ``StoreError``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from squall.schema import EVENT_COLUMNS
from squall.serve.exceptions import QueryTimeout, StoreError, StoreUnavailable
from squall.serve.limits import DEFAULT_QUERY_TIMEOUT
from squall.serve.search import EventRow, EventStore, SearchQuery

__all__ = ["MAX_TIES", "DruidEvents", "compile_scan"]

MAX_TIES = 100_000
"""Most events at one millisecond a page can order (a second scan fetches them all)."""
_COLUMNS = ["__time" if c.type == "time" else c.name for c in EVENT_COLUMNS]
_ID = [c.name for c in EVENT_COLUMNS].index("id")
_TIME = [c.type for c in EVENT_COLUMNS].index("time")
_CONTEXT = {"useCache": False, "populateCache": False}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _filter(query: SearchQuery) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    for dim, values in query.string_filter:
        parts.append({"type": "in", "dimension": dim, "values": list(values)})
    statuses = query.statuses
    if statuses is not None:
        parts.append(
            {"type": "in", "dimension": "status", "values": [str(s) for s in statuses]}
            if statuses
            else {"type": "false"}
        )
    classes = query.status_classes
    if classes is not None:
        ranges = [
            {
                "type": "bound",
                "dimension": "status",
                "lower": str(c * 100),
                "upper": str(c * 100 + 99),
                "ordering": "numeric",
            }
            for c in classes
        ]
        parts.append({"type": "or", "fields": ranges} if ranges else {"type": "false"})
    if query.contains is not None:
        parts.append(
            {
                "type": "search",
                "dimension": "line",
                "query": {"type": "contains", "value": query.contains, "caseSensitive": False},
            }
        )
    if query.regex is not None:
        parts.append({"type": "regex", "dimension": "line", "pattern": query.regex})
    if query.after is not None:
        t, i = query.after
        parts.append(
            {
                "type": "not",
                "field": {
                    "type": "and",
                    "fields": [
                        {"type": "selector", "dimension": "__time", "value": str(t)},
                        {
                            "type": "bound",
                            "dimension": "id",
                            "lower": i,
                            "ordering": "lexicographic",
                        },
                    ],
                },
            }
        )
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"type": "and", "fields": parts}


def compile_scan(
    query: SearchQuery,
    datasource: str,
    start_ms: int,
    end_ms: int,
    limit: int,
    timeout: float = DEFAULT_QUERY_TIMEOUT,
) -> dict[str, Any]:
    """The scan query of ``query`` over ``[start_ms, end_ms)``, at most ``limit`` rows,
    stopped by Druid after ``timeout`` seconds."""
    scan: dict[str, Any] = {
        "queryType": "scan",
        "dataSource": datasource,
        "intervals": [f"{_iso(start_ms)}/{_iso(end_ms)}"],
        "columns": _COLUMNS,
        "resultFormat": "compactedList",
        "order": "descending",
        "limit": limit,
        "context": {**_CONTEXT, "timeout": max(1, round(timeout * 1000))},
    }
    flt = _filter(query)
    if flt is not None:
        scan["filter"] = flt
    return scan


class DruidEvents(EventStore):
    """Searches ``datasource`` through the router or broker at ``base`` (``http://H:P``)."""

    def __init__(self, base: str, datasource: str, timeout: float = DEFAULT_QUERY_TIMEOUT) -> None:
        self.base = base
        self.datasource = datasource
        self.timeout = timeout
        # Druid stops the scan at ``timeout``; the client waits a little longer for that answer
        self._http = httpx.Client(base_url=base, timeout=timeout + 10.0)

    def close(self) -> None:
        self._http.close()

    def search(self, query: SearchQuery) -> list[EventRow]:
        end = query.end_ms
        if query.after is not None:
            end = min(end, query.after[0] + 1)
        if end <= query.start_ms:
            return []
        want = query.limit + 1
        scan = compile_scan(query, self.datasource, query.start_ms, end, want, self.timeout)
        rows = self._scan(scan)
        if len(rows) >= want:  # full: the last millisecond may hold more matches
            last = rows[-1][_TIME]
            ties = self._scan(
                compile_scan(query, self.datasource, last, last + 1, MAX_TIES + 1, self.timeout)
            )
            if len(ties) > MAX_TIES:
                raise StoreError(
                    f"more than {MAX_TIES} events match at {_iso(last)}; narrow the search "
                    "with a filter or a word"
                )
            rows = [r for r in rows if r[_TIME] > last] + ties
        rows.sort(key=lambda r: (r[_TIME], r[_ID]), reverse=True)
        return rows[:want]

    def _scan(self, scan: dict[str, Any]) -> list[EventRow]:
        try:
            response = self._http.post("/druid/v2/", json=scan)
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"cannot reach Druid at {self.base} ({exc}); is it running? Start it with "
                "`squall stack up druid` or point SQUALL_STORE elsewhere."
            ) from exc
        if response.status_code != 200 and (
            "QueryTimeoutException" in response.text or "Query timeout" in response.text
        ):
            raise QueryTimeout(
                f"Druid stopped the search after {self.timeout:g} s. Search a shorter "
                "interval, add a filter or a word, or raise SQUALL_QUERY_TIMEOUT."
            )
        if response.status_code in (502, 503, 504):
            raise StoreUnavailable(
                f"Druid at {self.base} cannot answer now (HTTP {response.status_code}); its "
                "services may still be starting: check `squall stack status druid`."
            )
        if response.status_code != 200:
            raise StoreError(
                f"Druid at {self.base} rejected the search (HTTP {response.status_code}): "
                f"{response.text[:500]}"
            )
        try:
            found = response.json()
        except ValueError as exc:
            raise StoreError(f"Druid at {self.base} sent an answer that is not JSON") from exc
        rows: list[EventRow] = []
        for segment in found:
            columns = segment.get("columns") or _COLUMNS
            if columns != _COLUMNS:
                order = [columns.index(c) for c in _COLUMNS]
                rows.extend(tuple(e[i] for i in order) for e in segment["events"])
            else:
                rows.extend(tuple(e) for e in segment["events"])
        return rows
