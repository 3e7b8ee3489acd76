"""The Druid store: the query API's queries as Druid native queries (``druid://HOST:PORT``).

Raw events are searched in datasource ``log_events`` (serve.druid_events, ``self.events``).

Apache Druid holds the aggregate rows in datasource ``log_metrics``, ingested by its Kafka
supervisor from ``logs.metrics`` (squall.druid_spec), so this store never writes: the
loader is not used with Druid, and ``write`` says so. Queries go through pydruid to the
router (or a broker) at ``/druid/v2``:

* every ``OutputMetric`` (serve.query) becomes Druid aggregators over the stored columns
  (the ones the supervisor rolls up with, squall.druid_spec.aggregator) plus, for sketch
  metrics, a post-aggregator: ``quantilesDoublesSketchToQuantile`` for the latency
  quantiles, ``HLLSketchEstimate`` for unique users; ratios (``error_rate``,
  ``latency_avg``) are an arithmetic ``quotient`` post-aggregator, so topN can rank by them;
* ``timeseries`` -> timeseries (zero-filled here, bucket by bucket, as the DuckDB store
  does), ``topN`` -> topN (a few extra candidates are fetched and re-ranked here, so ties
  break by dimension value as on DuckDB), ``groupBy`` -> groupBy with a row limit;
* the filter becomes ``selector``/``in`` filters joined by ``and``.

Druid answers JSON where an empty quantile is ``"NaN"`` and an empty sum ``null``; results
are normalised to the API's types (integer sums as ints, empty sums 0, empty min/max and
quantiles null, empty unique counts 0.0). pydruid and HTTP errors are translated at the
edge: an unreachable Druid is ``StoreUnavailable`` (HTTP 503), a query that exceeds Druid's
resource limits ``TooManyRows`` (a 400 that says how to narrow it), one that outlives the
``timeout`` Druid is given in the query context ``QueryTimeout`` (HTTP 408), anything else
Druid rejects ``StoreError``.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request  # pydruid uses urllib.request but imports only urllib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydruid.client import PyDruid
from pydruid.query import Query as DruidQuery
from pydruid.utils.filters import Filter
from pydruid.utils.postaggregator import Postaggregator

from squall.druid_spec import DATASOURCE, aggregator
from squall.exceptions import ConfigError
from squall.rows import WireRow
from squall.schema import METRICS
from squall.serve.druid_events import DruidEvents
from squall.serve.exceptions import QueryTimeout, StoreError, StoreUnavailable, TooManyRows
from squall.serve.intervals import bucket_starts, format_time, parse_time
from squall.serve.limits import DEFAULT_QUERY_TIMEOUT, MAX_ROWS, QueryLimits
from squall.serve.query import OUTPUT_METRICS, OutputMetric, Query
from squall.serve.store import Store

__all__ = ["DruidStore", "compile_query"]

_STORED = {m.name: m for m in METRICS}
_TOPN_SLACK = 10
"""Extra topN candidates fetched so ties at the threshold break by dimension value."""
_CONTEXT = {"useCache": False, "populateCache": False}


class _Post(Postaggregator):
    """A raw post-aggregator dict for pydruid's builder (which renames it to its key)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.post_aggregator = spec


def _field(name: str) -> dict[str, Any]:
    return {"type": "fieldAccess", "name": name, "fieldName": name}


def _agg_name(column: str) -> str:
    """The name a stored column's aggregate has in the query (apart from output names)."""
    return f"_{column}"


def compile_query(
    query: Query,
    datasource: str = DATASOURCE,
    max_rows: int = MAX_ROWS,
    timeout: float = DEFAULT_QUERY_TIMEOUT,
) -> dict[str, Any]:
    """The pydruid arguments of ``query`` (also used by tests to see what is sent);
    Druid stops the query after ``timeout`` seconds (its context's ``timeout``, in ms)."""
    metrics = [OUTPUT_METRICS[name] for name in query.metrics]
    aggs: dict[str, dict[str, Any]] = {}
    posts: dict[str, Postaggregator] = {}
    for m in metrics:
        for column in m.columns:
            aggs.setdefault(_agg_name(column), aggregator(_STORED[column], _agg_name(column)))
        if m.op not in ("sum", "min", "max"):  # those are read from their aggregator
            posts[m.name] = _Post(_post_aggregator(m))
    args: dict[str, Any] = {
        "datasource": datasource,
        "granularity": query.granularity,
        "intervals": f"{format_time(query.start)}/{format_time(query.end)}",
        "aggregations": aggs,
        "post_aggregations": posts,
        "context": {**_CONTEXT, "timeout": max(1, round(timeout * 1000))},
    }
    flt = _filter(query)
    if flt is not None:
        args["filter"] = flt
    if query.query_type == "topN":
        assert query.dimension is not None and query.metric is not None
        args["dimension"] = query.dimension
        rank = OUTPUT_METRICS[query.metric]
        plain = rank.op in ("sum", "min", "max")  # a fieldAccess cannot rank a topN
        args["metric"] = _agg_name(rank.columns[0]) if plain else query.metric
        args["threshold"] = min(query.threshold + _TOPN_SLACK, max_rows + 1)
    elif query.query_type == "groupBy":
        args["dimensions"] = list(query.dimensions)
        args["limit_spec"] = {"type": "default", "limit": max_rows + 1, "columns": []}
    return args


def _post_aggregator(m: OutputMetric) -> dict[str, Any]:
    col = _agg_name(m.columns[0])
    if m.op == "ratio":
        return {
            "type": "arithmetic",
            "name": m.name,
            "fn": "quotient",
            "fields": [_field(col), _field(_agg_name(m.columns[1]))],
        }
    if m.op == "quantile":
        return {
            "type": "quantilesDoublesSketchToQuantile",
            "name": m.name,
            "field": _field(col),
            "fraction": m.fraction,
        }
    if m.op == "distinct":
        return {"type": "HLLSketchEstimate", "name": m.name, "field": _field(col), "round": False}
    raise AssertionError(m.op)


def _filter(query: Query) -> Filter | None:
    parts = [
        Filter(dimension=dim, value=values[0])
        if len(values) == 1
        else Filter(type="in", dimension=dim, values=list(values))
        for dim, values in query.filter
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Filter(type="and", fields=parts)


def _number(value: Any) -> float | None:
    """Druid's JSON number (or null, or the string "NaN"/"Infinity") -> float or None."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _convert(m: OutputMetric, raw: dict[str, Any]) -> Any:
    """The API value of ``m`` from a Druid result row (its aggregates and post-aggs)."""
    if m.op == "sum":
        v = _number(raw.get(_agg_name(m.columns[0])))
        if m.integer:
            return round(v) if v is not None else 0
        return v if v is not None else 0.0
    if m.op == "ratio":
        num = _number(raw.get(_agg_name(m.columns[0])))
        den = _number(raw.get(_agg_name(m.columns[1])))
        return None if not den or num is None else num / den
    if m.op == "distinct":
        return _number(raw.get(m.name)) or 0.0
    if m.op == "quantile":
        return _number(raw.get(m.name))
    return _number(raw.get(_agg_name(m.columns[0])))  # min, max: null when nothing was seen


def _rank_key(metric: str, dim: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        v = r[metric]
        return (r["timestamp"], v is None, -(v or 0.0), r[dim])

    return key


class DruidStore(Store):
    """Queries against a Druid router or broker; see the module docstring."""

    def __init__(
        self,
        address: str,
        datasource: str = DATASOURCE,
        max_rows: int = MAX_ROWS,
        *,
        scheme: str = "http",
        timeout: float = DEFAULT_QUERY_TIMEOUT,
        events_datasource: str | None = None,
    ) -> None:
        QueryLimits(max_rows, timeout)  # ConfigError when out of range
        host, sep, port = address.partition(":")
        if not host or (sep and not port.isdigit()):
            raise ConfigError(
                f"Druid address {address!r} is not valid; use druid://HOST:PORT, e.g. "
                "druid://127.0.0.1:8888 (the router)"
            )
        self.base = f"{scheme}://{address}"
        self.url = f"druid://{address}"
        self.datasource = datasource
        self.max_rows = max_rows
        self.timeout = timeout
        self._client = PyDruid(self.base, "druid/v2")
        self._events = (
            DruidEvents(self.base, events_datasource, timeout) if events_datasource else None
        )
        self.events = self._events

    def close(self) -> None:
        """Release the event store's HTTP connections (queries are their own requests)."""
        if self._events is not None:
            self._events.close()

    def write(self, rows: Sequence[WireRow]) -> None:
        raise StoreError(
            f"the Druid store ({self.url}) is not written directly: Druid's Kafka supervisor "
            f"ingests the rows from logs.metrics (`squall stack up druid` submits it). "
            "Produce the rows to logs.metrics instead."
        )

    # -- querying ----------------------------------------------------------------------

    def _run(self, kind: str, args: dict[str, Any]) -> list[Any]:
        try:
            result: DruidQuery = getattr(self._client, kind)(**args)
        except urllib.error.HTTPError as exc:  # not raised by pydruid 0.6.9, kept for safety
            raise self._error(exc) from exc
        except urllib.error.URLError as exc:
            raise StoreUnavailable(
                f"cannot reach Druid at {self.base} ({exc.reason}); is it running? "
                "Start it with `squall stack up druid` or point SQUALL_STORE elsewhere."
            ) from exc
        except OSError as exc:  # pydruid turns Druid's HTTP errors into IOError
            raise self._error(exc) from exc
        except (ValueError, json.JSONDecodeError) as exc:
            raise StoreError(
                f"Druid at {self.base} sent an answer that is not JSON: {exc}"
            ) from exc
        found: list[Any] = result.result or []
        return found

    def _error(self, exc: OSError) -> StoreError | TooManyRows | QueryTimeout:
        text = str(exc).split("\n Query is:")[0].strip()
        if "QueryTimeoutException" in text or "Query timeout" in text:
            return QueryTimeout(
                f"Druid stopped the query after {self.timeout:g} s ({text[:200]}). Use a "
                "shorter interval, a coarser granularity or a filter, or raise "
                "SQUALL_QUERY_TIMEOUT."
            )
        if any(f"HTTP Error {code}" in text for code in (502, 503, 504)):
            return StoreUnavailable(
                f"Druid at {self.base} cannot answer now ({text}); its services may still be "
                "starting: check `squall stack status druid` and retry."
            )
        if "ResourceLimitExceeded" in text or "Resource limit exceeded" in text:
            return TooManyRows(
                f"Druid ran out of room for this query's groups ({text[:300]}). Add a filter, "
                "use a shorter interval, a coarser granularity or fewer dimensions."
            )
        return StoreError(f"Druid at {self.base} rejected the query: {text}")

    def time_boundary(self) -> tuple[datetime, datetime] | None:
        found = self._run("time_boundary", {"datasource": self.datasource})
        if not found:
            return None
        result = found[0].get("result") or {}
        if not result.get("minTime"):
            return None
        return parse_time(result["minTime"]), parse_time(result["maxTime"])

    def query(self, query: Query) -> list[dict[str, Any]]:
        args = compile_query(query, self.datasource, self.max_rows, self.timeout)
        metrics = [OUTPUT_METRICS[name] for name in query.metrics]
        if query.query_type == "timeseries":
            found = self._run("timeseries", args)
            return self._timeseries(query, metrics, found)
        if query.query_type == "topN":
            found = self._run("topn", args)
            return self._top_n(query, metrics, found)
        found = self._run("groupby", args)
        return self._group_by(query, metrics, found)

    def _stamp(self, query: Query, raw: str) -> str:
        return format_time(query.start if query.granularity == "all" else parse_time(raw))

    def _timeseries(
        self, query: Query, metrics: list[OutputMetric], found: list[Any]
    ) -> list[dict[str, Any]]:
        by_stamp = {
            self._stamp(query, item["timestamp"]): {
                m.name: _convert(m, item["result"]) for m in metrics
            }
            for item in found
        }
        empty = {m.name: _convert(m, {}) for m in metrics}
        out = []
        for start in bucket_starts(query.start, query.end, query.granularity):
            stamp = format_time(start)
            out.append({"timestamp": stamp, **by_stamp.get(stamp, empty)})
        return out

    def _top_n(
        self, query: Query, metrics: list[OutputMetric], found: list[Any]
    ) -> list[dict[str, Any]]:
        assert query.dimension is not None and query.metric is not None
        dim = query.dimension
        rows = []
        for item in found:
            stamp = self._stamp(query, item["timestamp"])
            for raw in item["result"]:
                row: dict[str, Any] = {"timestamp": stamp, dim: raw[dim]}
                row.update((m.name, _convert(m, raw)) for m in metrics)
                rows.append(row)
        out: list[dict[str, Any]] = []
        per_bucket: dict[str, int] = {}
        for r in sorted(rows, key=_rank_key(query.metric, dim)):
            n = per_bucket.get(r["timestamp"], 0)
            if n < query.threshold:
                out.append(r)
                per_bucket[r["timestamp"]] = n + 1
        if len(out) > self.max_rows:
            raise TooManyRows(
                f"this topN returns {len(out)} rows ({query.threshold} per "
                f"{query.granularity} bucket); the limit is {self.max_rows}. Use a shorter "
                "interval, a coarser granularity or a smaller threshold."
            )
        return out

    def _group_by(
        self, query: Query, metrics: list[OutputMetric], found: list[Any]
    ) -> list[dict[str, Any]]:
        if len(found) > self.max_rows:
            raise TooManyRows(
                f"this groupBy returns more than {self.max_rows} rows. Add a filter, use a "
                "shorter interval, a coarser granularity or fewer dimensions."
            )
        dims = query.dimensions
        rows = []
        for item in found:
            event = item["event"]
            row: dict[str, Any] = {"timestamp": self._stamp(query, item["timestamp"])}
            row.update((d, event.get(d)) for d in dims)
            row.update((m.name, _convert(m, event)) for m in metrics)
            rows.append(row)
        rows.sort(key=lambda r: (r["timestamp"], *(r[d] or "" for d in dims)))
        return rows
