"""The store contract, through the real HTTP query API: every query type, granularity,
filter and metric against ground truth computed from the raw events.

Runs once per store kind (``STORE_KINDS`` in conftest): a new store passes these to be
a drop-in behind the query API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

Post = Any
Event = Any

WHOLE = "2015-05-17T22:00:00Z/2015-05-18T02:00:00Z"
# deliberately not aligned to minutes or hours; crosses midnight
PART = "2015-05-17T23:07:30Z/2015-05-18T00:41:00Z"
# whole hours inside, whole five minutes and single minutes at both edges (DuckDB's roll-ups)
EDGES = "2015-05-17T22:07:30Z/2015-05-18T01:41:00Z"
STEP = {
    "minute": timedelta(minutes=1),
    "five_minute": timedelta(minutes=5),
    "fifteen_minute": timedelta(minutes=15),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def bounds(interval: str) -> tuple[datetime, datetime]:
    start, end = interval.split("/")
    return parse_iso(start), parse_iso(end)


def buckets(interval: str, granularity: str) -> list[str]:
    """Every bucket timestamp of the interval, independently of serve.intervals."""
    start, end = bounds(interval)
    if granularity == "all":
        return [iso(start)]
    t = {
        "minute": start.replace(second=0, microsecond=0),
        "five_minute": start.replace(minute=start.minute - start.minute % 5, second=0),
        "fifteen_minute": start.replace(minute=start.minute - start.minute % 15, second=0),
        "hour": start.replace(minute=0, second=0, microsecond=0),
        "day": start.replace(hour=0, minute=0, second=0, microsecond=0),
    }[granularity]
    out = []
    while t < end:
        out.append(iso(t))
        t += STEP[granularity]
    return out


ALL_METRICS = [
    "events",
    "errors",
    "error_rate",
    "bytes",
    "latency_avg",
    "latency_min",
    "latency_max",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "unique_users",
]

FILTERS: list[dict[str, Any] | None] = [
    None,
    {"service": "web"},
    {"status_class": ["4xx", "5xx"]},
    {"status": 503},
    {"service": ["api", "auth"], "method": "GET", "route": ["/", "/login", "/nope"]},
]


@pytest.mark.parametrize(
    "granularity", ["minute", "five_minute", "fifteen_minute", "hour", "day", "all"]
)
@pytest.mark.parametrize("interval", [WHOLE, PART, EDGES])
def test_timeseries_every_metric_each_granularity(
    gt: Any, query: Post, events: list[Event], granularity: str, interval: str
) -> None:
    rows = query(
        {
            "queryType": "timeseries",
            "interval": interval,
            "granularity": granularity,
            "metrics": ALL_METRICS,
        }
    )
    assert [r["timestamp"] for r in rows] == buckets(interval, granularity)  # zero-filled
    assert all(set(r) == {"timestamp", *ALL_METRICS} for r in rows)
    want = gt.truth(events, *bounds(interval), granularity)
    gt.check_rows(rows, want, ())
    assert sum(r["events"] for r in rows) == sum(g.events for g in want.values()) > 0


@pytest.mark.parametrize("flt", FILTERS)
def test_timeseries_filters(
    gt: Any, query: Post, events: list[Event], flt: dict[str, Any] | None
) -> None:
    body: dict[str, Any] = {
        "queryType": "timeseries",
        "interval": PART,
        "granularity": "hour",
        "metrics": ALL_METRICS,
    }
    if flt is not None:
        body["filter"] = flt
    rows = query(body)
    want = gt.truth(events, *bounds(PART), "hour", filters=flt)
    assert [r["timestamp"] for r in rows] == buckets(PART, "hour")
    gt.check_rows(rows, want, ())
    assert sum(r["events"] for r in rows) == sum(g.events for g in want.values()) > 0


def test_empty_buckets_are_zero_filled(query: Post) -> None:
    rows = query(
        {
            "queryType": "timeseries",
            "interval": "2015-05-17T22:25:00Z/2015-05-17T22:35:00Z",  # data starts 22:30
            "granularity": "minute",
            "metrics": ALL_METRICS,
        }
    )
    assert len(rows) == 10
    for row in rows[:5]:
        assert row["events"] == row["errors"] == row["bytes"] == 0
        assert row["unique_users"] == 0
        for m in ("error_rate", "latency_avg", "latency_min", "latency_p95"):
            assert row[m] is None
    assert all(row["events"] > 0 for row in rows[5:])


@pytest.mark.parametrize(
    "granularity", ["minute", "five_minute", "fifteen_minute", "hour", "day", "all"]
)
@pytest.mark.parametrize(
    ("dims", "flt"),
    [
        (("service",), None),
        (("route", "status"), {"service": "api"}),
        (("service", "method", "route", "status_class", "status"), {"status_class": "5xx"}),
    ],
)
def test_group_by(
    gt: Any,
    query: Post,
    events: list[Event],
    granularity: str,
    dims: tuple[str, ...],
    flt: dict[str, Any] | None,
) -> None:
    if granularity == "minute" and len(dims) == 5:
        interval = "2015-05-17T23:50:00Z/2015-05-18T00:10:00Z"
    else:
        interval = PART
    body: dict[str, Any] = {
        "queryType": "groupBy",
        "interval": interval,
        "granularity": granularity,
        "dimensions": list(dims),
        "metrics": ALL_METRICS,
    }
    if flt is not None:
        body["filter"] = flt
    rows = query(body)
    want = gt.truth(events, *bounds(interval), granularity, dims, flt)
    keys = [(r["timestamp"], *(r[d] for d in dims)) for r in rows]
    assert keys == sorted(want)  # every group with data, ordered by time then dimensions
    assert all(set(r) == {"timestamp", *dims, *ALL_METRICS} for r in rows)
    gt.check_rows(rows, want, dims)


@pytest.mark.parametrize("granularity", ["hour", "all"])
@pytest.mark.parametrize("metric", ["events", "bytes", "error_rate", "latency_max"])
def test_top_n_exact_metric(
    gt: Any, query: Post, events: list[Event], granularity: str, metric: str
) -> None:
    rows = query(
        {
            "queryType": "topN",
            "interval": PART,
            "granularity": granularity,
            "dimension": "route",
            "metric": metric,
            "threshold": 3,
            "metrics": ["events", "unique_users", "latency_p95"],
        }
    )
    want = gt.truth(events, *bounds(PART), granularity, ("route",))
    expected: list[tuple[str, str]] = []
    for stamp in sorted({k[0] for k in want}):
        ranked = sorted(
            ((gt.expected_value(metric, g), k[1]) for k, g in want.items() if k[0] == stamp),
            key=lambda vr: (vr[0] is None, -(vr[0] or 0), vr[1]),
        )
        expected += [(stamp, route) for _, route in ranked[:3]]
    assert [(r["timestamp"], r["route"]) for r in rows] == expected
    gt.check_rows(rows, want, ("route",))


@pytest.mark.parametrize("metric", ["unique_users", "latency_p99"])
def test_top_n_sketch_metric(gt: Any, query: Post, events: list[Event], metric: str) -> None:
    rows = query(
        {
            "queryType": "topN",
            "interval": WHOLE,
            "dimension": "route",
            "metric": metric,
            "threshold": 4,
            "metrics": ["events"],
        }
    )
    want = gt.truth(events, *bounds(WHOLE), "all", ("route",))
    assert len(rows) == 4
    values = [r[metric] for r in rows]
    assert values == sorted(values, reverse=True)
    gt.check_rows(rows, want, ("route",))
    if metric == "unique_users":  # the margins between routes are far above the error
        exact = sorted(want, key=lambda k: -len(want[k].users or ()))[:4]
        assert [r["route"] for r in rows] == [k[1] for k in exact]


def test_top_n_with_filter_and_threshold_above_groups(
    gt: Any, query: Post, events: list[Event]
) -> None:
    flt = {"status_class": "5xx", "service": "auth"}
    rows = query(
        {
            "queryType": "topN",
            "interval": WHOLE,
            "dimension": "status",
            "metric": "events",
            "threshold": 50,
            "filter": flt,
            "metrics": ALL_METRICS,
        }
    )
    want = gt.truth(events, *bounds(WHOLE), "all", ("status",), flt)
    assert sorted(r["status"] for r in rows) == ["500", "503"]
    assert [r["events"] for r in rows] == sorted((r["events"] for r in rows), reverse=True)
    gt.check_rows(rows, want, ("status",))


def test_filter_matching_nothing(query: Post) -> None:
    body: dict[str, Any] = {"interval": PART, "metrics": ["events", "unique_users"]}
    flt = {"filter": {"service": "no-such-service"}}
    assert query({"queryType": "groupBy", "dimensions": ["route"], **body, **flt}) == []
    top = {"queryType": "topN", "dimension": "route", "metric": "events", "threshold": 5}
    assert query({**top, **body, **flt}) == []
    rows = query({"queryType": "timeseries", **body, **flt})
    assert rows == [{"timestamp": "2015-05-17T23:07:30Z", "events": 0, "unique_users": 0.0}]


def test_interval_outside_the_data(query: Post) -> None:
    rows = query(
        {
            "queryType": "timeseries",
            "interval": "2020-01-01/2020-01-03",
            "granularity": "day",
            "metrics": ["events", "latency_p50"],
        }
    )
    assert rows == [
        {"timestamp": "2020-01-01T00:00:00Z", "events": 0, "latency_p50": None},
        {"timestamp": "2020-01-02T00:00:00Z", "events": 0, "latency_p50": None},
    ]


def test_interval_with_offsets_and_dates(gt: Any, query: Post, events: list[Event]) -> None:
    # 2015-05-18T01:00+02:00 is 2015-05-17T23:00Z; a bare date is midnight UTC
    rows = query(
        {
            "queryType": "timeseries",
            "interval": "2015-05-18T01:00:00+02:00/2015-05-18",
            "metrics": ["events"],
        }
    )
    want = gt.truth(events, datetime(2015, 5, 17, 23), datetime(2015, 5, 18), "all")
    stamp = "2015-05-17T23:00:00Z"
    assert rows == [{"timestamp": stamp, "events": want[(stamp,)].events}]


def test_time_boundary(client: Any, events: list[Event]) -> None:
    got = client.get("/api/v1/time-boundary").json()
    minutes = [e.time.replace(second=0, microsecond=0) for e in events]
    assert got == {"minTime": iso(min(minutes)), "maxTime": iso(max(minutes))}
