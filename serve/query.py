"""The query API's vocabulary (design.md "Query API") and its validation.

A request body is first checked for shape by the pydantic ``QueryModel`` and then
resolved by ``parse_query`` into a ``Query``: names checked against ``squall.schema`` and
``OUTPUT_METRICS``, the interval parsed, limits applied. Stores only ever see a valid
``Query``; everything a user can get wrong raises an ``InvalidQuery`` whose message lists
what is allowed.

Output metrics are defined here, store-neutrally, as an operation over stored columns
(``OutputMetric``), so the DuckDB and Druid stores compute the same thing.

Semantics every store implements (where design.md leaves them open):

* ``interval`` is half-open, ``[start, end)``, over the rows' minutes; ISO-8601 with ``Z``,
  an offset, or none (UTC); a bare date is midnight UTC.
* buckets align to UTC minute/hour/day boundaries; a bucket's ``timestamp`` is its start,
  even when the interval starts inside it. ``all`` is one bucket stamped with the
  interval's start. ``granularity`` defaults to ``all``.
* timeseries returns every bucket of the interval, empty ones zero-filled (counts 0,
  ``unique_users`` 0.0, ratios, min/max and quantiles null), as Druid does by default;
  groupBy and topN return only groups with data.
* topN ranks within each bucket by ``metric`` descending (nulls last, ties by the
  dimension value) and keeps ``threshold`` rows per bucket; ``metric`` is returned even
  if ``metrics`` does not list it.
* rows: timeseries and groupBy by time, then the dimensions; topN by time, then rank.
* ``error_rate`` is a fraction (0..1); sums are integers; other metrics floats or null.
* the limits of serve.limits apply (rows, buckets, threshold, filter values, nesting):
  each is a 400 that names the limit, checked before running where the query tells.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from squall.schema import DIMENSIONS, METRICS
from squall.serve.exceptions import InvalidQuery, ServeError, TooManyRows, UnknownName
from squall.serve.intervals import GRANULARITIES, Granularity, bucket_count, parse_interval
from squall.serve.limits import (
    MAX_BUCKETS,
    MAX_FILTER_VALUES,
    MAX_ROWS,
    MAX_THRESHOLD,
    check_depth,
)

__all__ = [
    "MAX_ROWS",
    "MAX_THRESHOLD",
    "OUTPUT_METRICS",
    "QUERY_TYPES",
    "Filter",
    "OutputMetric",
    "Query",
    "QueryModel",
    "check_shape",
    "parse_filter",
    "parse_query",
]

M = TypeVar("M", bound=BaseModel)

QueryType = Literal["timeseries", "topN", "groupBy"]
QUERY_TYPES: tuple[QueryType, ...] = ("timeseries", "topN", "groupBy")

Op = Literal["sum", "ratio", "min", "max", "quantile", "distinct"]


@dataclass(frozen=True, slots=True)
class OutputMetric:
    """A metric the API returns, as an operation over stored (``squall.schema``) columns.

    ``sum``/``min``/``max`` of ``columns[0]``; ``ratio`` = sum(columns[0]) / sum(columns[1])
    (null when the divisor is 0); ``quantile`` at ``fraction`` of the merged quantiles
    sketch ``columns[0]`` (null when empty); ``distinct`` = estimate of the merged HLL
    sketch ``columns[0]``. ``integer`` sums are returned as JSON integers.
    """

    name: str
    op: Op
    columns: tuple[str, ...]
    doc: str
    fraction: float = 0.0
    integer: bool = False

    @property
    def uses_sketch(self) -> bool:
        return self.op in ("quantile", "distinct")


OUTPUT_METRICS: dict[str, OutputMetric] = {
    m.name: m
    for m in (
        OutputMetric("events", "sum", ("events",), "number of events", integer=True),
        OutputMetric("errors", "sum", ("errors",), "events with status >= 500", integer=True),
        OutputMetric(
            "error_rate", "ratio", ("errors", "events"), "errors / events, 0..1; null if none"
        ),
        OutputMetric("bytes", "sum", ("bytes",), "response bytes", integer=True),
        OutputMetric("latency_avg", "ratio", ("latency_sum", "latency_count"), "mean latency_ms"),
        OutputMetric("latency_min", "min", ("latency_min",), "smallest latency_ms"),
        OutputMetric("latency_max", "max", ("latency_max",), "largest latency_ms"),
        OutputMetric("latency_p50", "quantile", ("latency_sketch",), "median", fraction=0.5),
        OutputMetric("latency_p95", "quantile", ("latency_sketch",), "95th pct", fraction=0.95),
        OutputMetric("latency_p99", "quantile", ("latency_sketch",), "99th pct", fraction=0.99),
        OutputMetric("unique_users", "distinct", ("users_sketch",), "distinct users (HLL)"),
    )
}

# The metric definitions must match the schema's stored columns and how they combine.
_KIND_FOR_OP = {
    "sum": "sum",
    "ratio": "sum",
    "min": "min",
    "max": "max",
    "quantile": "quantiles",
    "distinct": "hll",
}


def _check_against_schema() -> None:
    """Fail at import (a programming error, whatever ``python -O`` says) when an output
    metric reads a column the schema does not store, or stores as another kind."""
    stored = {m.name: m.kind for m in METRICS}
    for metric in OUTPUT_METRICS.values():
        for column in metric.columns:
            if stored.get(column) != _KIND_FOR_OP[metric.op]:
                raise ServeError(
                    f"output metric {metric.name!r} reads column {column!r} as "
                    f"{_KIND_FOR_OP[metric.op]}, but squall.schema stores "
                    f"{stored.get(column) or 'no such column'}; fix one of them"
                )


_check_against_schema()


class QueryModel(BaseModel):
    """The JSON body of ``POST /api/v1/query`` (shape only; names are checked later)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    query_type: str = Field(alias="queryType", description=" | ".join(QUERY_TYPES))
    interval: str = Field(description="'start/end', ISO-8601, end exclusive")
    granularity: str = Field(default="all", description=" | ".join(GRANULARITIES))
    dimensions: list[str] | None = Field(default=None, description="groupBy: dimensions")
    dimension: str | None = Field(default=None, description="topN: the dimension")
    metric: str | None = Field(default=None, description="topN: metric to rank by")
    threshold: StrictInt | None = Field(default=None, description="topN: rows per time bucket")
    filter: dict[str, StrictStr | StrictInt | list[StrictStr | StrictInt]] | None = Field(
        default=None, description="dimension -> value or list of values (any of)"
    )
    metrics: list[str] | None = Field(default=None, description="output metrics")


Filter = tuple[tuple[str, tuple[str, ...]], ...]
"""(dimension, values) pairs, sorted by dimension; a row matches when every dimension
has one of its values (the values as strings)."""


@dataclass(frozen=True, slots=True)
class Query:
    """A validated query. ``start``/``end`` are naive UTC; ``filter`` values are strings."""

    query_type: QueryType
    start: datetime
    end: datetime
    granularity: Granularity
    metrics: tuple[str, ...]
    dimensions: tuple[str, ...] = ()
    dimension: str | None = None
    metric: str | None = None
    threshold: int = 0
    filter: Filter = ()

    @property
    def group_dimensions(self) -> tuple[str, ...]:
        """The dimensions the result rows carry besides the timestamp."""
        if self.query_type == "groupBy":
            return self.dimensions
        if self.query_type == "topN" and self.dimension is not None:
            return (self.dimension,)
        return ()

    @property
    def buckets(self) -> int:
        return bucket_count(self.start, self.end, self.granularity)


def _allowed(names: Iterable[str]) -> str:
    return ", ".join(names)


_FIELDS = (
    "queryType",
    "interval",
    "granularity",
    "dimensions",
    "dimension",
    "metric",
    "threshold",
    "filter",
    "metrics",
)
_ONLY_FOR = {"dimensions": "groupBy", "dimension": "topN", "metric": "topN", "threshold": "topN"}


def check_shape(body: Any, fields: Sequence[str], model: type[M], what: str) -> M:
    """What every API body passes before its own checks (the query's, the search's): a JSON
    object, no deeper than serve.limits allows, of known fields, of the model's types.
    ``InvalidQuery``/``UnknownName`` (a 400) say what is allowed."""
    if not isinstance(body, dict):
        raise InvalidQuery(
            f"the {what} must be a JSON object with the fields {_allowed(fields)}; "
            f"got {type(body).__name__}"
        )
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise UnknownName(f"unknown field(s) {unknown}; allowed fields: {_allowed(fields)}")
    check_depth(body)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise InvalidQuery(f"the {what} is not valid: {problems}") from exc


def _check_dimension(name: str, where: str) -> str:
    if name not in DIMENSIONS:
        raise UnknownName(f"unknown dimension {name!r} in {where}; allowed: {_allowed(DIMENSIONS)}")
    return name


def _check_metric(name: str, where: str) -> str:
    if name not in OUTPUT_METRICS:
        raise UnknownName(
            f"unknown metric {name!r} in {where}; allowed: {_allowed(OUTPUT_METRICS)}"
        )
    return name


def parse_filter(raw: dict[str, str | int | list[str | int]] | None) -> Filter:
    """A request's ``filter`` (already shape-checked) -> ``Filter``; ``InvalidQuery`` for
    an unknown dimension or an empty list. /api/v1/query and /api/v1/search share it."""
    if not raw:
        return ()
    out = []
    for dim, value in sorted(raw.items()):
        _check_dimension(dim, "filter")
        values = value if isinstance(value, list) else [value]
        if not values:
            raise InvalidQuery(
                f"filter on {dim!r} has an empty list, which matches nothing; "
                "give a value or a non-empty list of values"
            )
        if len(values) > MAX_FILTER_VALUES:
            raise InvalidQuery(
                f"filter on {dim!r} lists {len(values)} values; the limit is "
                f"{MAX_FILTER_VALUES} per dimension. Filter on a coarser dimension (e.g. "
                "status_class instead of status) or split the query."
            )
        out.append((dim, tuple(sorted({str(v) for v in values}))))
    return tuple(out)


def parse_query(body: Any, max_rows: int = MAX_ROWS) -> Query:
    """Validate a decoded JSON body; raises ``InvalidQuery`` (a 400) with what is allowed."""
    model = check_shape(body, _FIELDS, QueryModel, "query")
    qtype = model.query_type
    if qtype not in QUERY_TYPES:
        raise UnknownName(f"unknown queryType {qtype!r}; allowed: {_allowed(QUERY_TYPES)}")
    if model.granularity not in GRANULARITIES:
        raise UnknownName(
            f"unknown granularity {model.granularity!r}; allowed: {_allowed(GRANULARITIES)}"
        )
    granularity: Granularity = model.granularity
    for field, only in _ONLY_FOR.items():
        if getattr(model, field) is not None and qtype != only:
            raise InvalidQuery(f"{field!r} is only for queryType {only!r}, not {qtype!r}")
    start, end = parse_interval(model.interval)
    metrics = tuple(_check_metric(m, "metrics") for m in (model.metrics or ()))
    if len(set(metrics)) != len(metrics):
        raise InvalidQuery(f"metrics {list(metrics)} name a metric twice; list each once")
    query = Query(qtype, start, end, granularity, metrics, filter=parse_filter(model.filter))

    if qtype == "groupBy":
        dims = tuple(_check_dimension(d, "dimensions") for d in (model.dimensions or ()))
        if not dims:
            raise InvalidQuery(
                f"groupBy needs 'dimensions', a non-empty list from: {_allowed(DIMENSIONS)}"
            )
        if len(set(dims)) != len(dims):
            raise InvalidQuery(f"dimensions {list(dims)} name a dimension twice")
        query = replace(query, dimensions=dims)
    elif qtype == "topN":
        if model.dimension is None or model.metric is None or model.threshold is None:
            raise InvalidQuery(
                "topN needs 'dimension' (one of "
                f"{_allowed(DIMENSIONS)}), 'metric' (one of {_allowed(OUTPUT_METRICS)}) "
                f"and 'threshold' (1..{MAX_THRESHOLD})"
            )
        _check_dimension(model.dimension, "dimension")
        _check_metric(model.metric, "metric")
        if not 1 <= model.threshold <= MAX_THRESHOLD:
            raise InvalidQuery(
                f"threshold {model.threshold} is out of range; allowed: 1..{MAX_THRESHOLD}"
            )
        if model.metric not in metrics:
            metrics = (model.metric, *metrics)
        query = replace(
            query,
            dimension=model.dimension,
            metric=model.metric,
            threshold=model.threshold,
            metrics=metrics,
        )
    if not query.metrics:
        raise InvalidQuery(f"'metrics' is empty; list some of: {_allowed(OUTPUT_METRICS)}")

    _check_size(query, max_rows)
    return query


def _check_size(query: Query, max_rows: int) -> None:
    """Refuse before running what the interval and granularity alone make too big."""
    buckets, granularity = query.buckets, query.granularity
    if query.query_type == "timeseries" and buckets > max_rows:  # zero-filled: row per bucket
        raise TooManyRows(
            f"this query would return {buckets} rows ({granularity} buckets); the limit "
            f"is {max_rows}. Use a shorter interval or a coarser granularity "
            f"({_allowed(GRANULARITIES)})."
        )
    if buckets > MAX_BUCKETS:
        estimate = (
            f"up to {buckets * query.threshold} rows ({query.threshold} per bucket)"
            if query.query_type == "topN"
            else f"up to {buckets} rows per group"
        )
        raise TooManyRows(
            f"this {query.query_type} spans {buckets} {granularity} buckets and could return "
            f"{estimate}; the limits are {MAX_BUCKETS} buckets and "
            f"{max_rows} rows. Use a coarser granularity ({_allowed(GRANULARITIES)}) or a "
            "shorter interval."
        )
