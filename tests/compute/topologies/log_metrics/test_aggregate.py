"""The per-minute aggregator against plain-Python ground truth."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
from datasketches import quantiles_doubles_sketch

from squall.compute.topologies.log_metrics.aggregate import MinuteAggregator
from squall.compute.topologies.log_metrics.parse import ParsedEvent, parse_event
from squall.compute.topologies.log_metrics.route import template_route
from squall.rows import COLUMNS, Row, merge_rows
from squall.schema import QUANTILES_K

EPS = quantiles_doubles_sketch.get_normalized_rank_error(QUANTILES_K, False)


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def _aggregate(events: list[ParsedEvent], flush_every: int) -> list[Row]:
    """All delta rows of ``events``, flushing every ``flush_every`` events."""
    aggregator = MinuteAggregator()
    rows: list[Row] = []
    for start in range(0, len(events), flush_every):
        aggregator.add_all(events[start : start + flush_every])
        rows.extend(aggregator.flush())
    return rows


def test_apache_logs_counts_and_bytes_equal_a_plain_count(apache_log_lines: list[str]) -> None:
    events = [parse_event({"service": "site"}, line) for line in apache_log_lines]
    assert all(isinstance(e, ParsedEvent) for e in events)
    rows = merge_rows(_aggregate(events, flush_every=777))  # type: ignore[arg-type]

    # ground truth: plain splitting and counting, nothing from the parser or aggregator
    count: Counter[tuple[str, str, str]] = Counter()
    size: Counter[tuple[str, str, str]] = Counter()
    errors: Counter[tuple[str, str, str]] = Counter()
    users: defaultdict[str, set[str]] = defaultdict(set)
    for line in apache_log_lines:
        head, request, tail = line.split('"')[:3]
        fields = head.split()
        when = datetime.strptime(fields[3][1:] + " " + fields[4][:-1], "%d/%b/%Y:%H:%M:%S %z")
        status, nbytes = tail.split()
        key = (_minute(when), template_route(request.split(" ")[1]), status)
        count[key] += 1
        size[key] += 0 if nbytes == "-" else int(nbytes)
        errors[key] += int(status) >= 500
        users[_minute(when)].add(fields[2] if fields[2] != "-" else fields[0])

    got_count: Counter[tuple[str, str, str]] = Counter()
    got_size: Counter[tuple[str, str, str]] = Counter()
    got_errors: Counter[tuple[str, str, str]] = Counter()
    per_minute_users: defaultdict[str, list[Row]] = defaultdict(list)
    for row in rows:
        assert tuple(row) == COLUMNS
        assert row["service"] == "site"
        assert row["status_class"] == row["status"][0] + "xx"
        assert row["latency_count"] == 0 and row["latency_sketch"] is None
        key = (row["time"], row["route"], row["status"])
        got_count[key] += row["events"]
        got_size[key] += row["bytes"]
        got_errors[key] += row["errors"]
        per_minute_users[row["time"]].append(row)
    assert got_count == count
    assert got_size == size
    assert got_errors == errors
    assert sum(got_count.values()) == 10_000

    # users: per minute within the sketch's own 3-sigma bounds
    assert per_minute_users.keys() == users.keys()
    for minute, minute_rows in per_minute_users.items():
        merged = merge_rows(
            {**r, "route": "", "method": "", "status": "", "status_class": ""} for r in minute_rows
        )
        (only,) = merged
        sketch = only["users_sketch"]
        exact = len(users[minute])
        assert sketch.get_lower_bound(3) <= exact <= sketch.get_upper_bound(3), minute


def test_flush_hands_out_deltas_and_resets() -> None:
    aggregator = MinuteAggregator()
    event = ParsedEvent(60_000 * 5 + 1, "s", "GET", "/", 200, 10, 1.5, "u")
    aggregator.add(event)
    aggregator.add(event)
    assert len(aggregator) == 1
    (first,) = aggregator.flush()
    assert (first["events"], first["bytes"], first["latency_sum"]) == (2, 20, 3.0)
    assert len(aggregator) == 0
    assert aggregator.flush() == []
    aggregator.add(event)
    (second,) = aggregator.flush()
    assert (second["events"], second["bytes"], second["latency_count"]) == (1, 10, 1)
    assert second["time"] == first["time"] == "1970-01-01T00:05:00Z"


def test_exact_metrics_per_key() -> None:
    rng = random.Random(7)
    events = []
    for _ in range(5000):
        latency = rng.choice([None, rng.randrange(1, 4000) / 8])
        events.append(
            ParsedEvent(
                1431857103000 + rng.randrange(-3, 4) * 60_000,
                rng.choice(["api", "web"]),
                rng.choice(["GET", "POST"]),
                "/r",
                rng.choice([200, 201, 404, 500, 503]),
                rng.randrange(10_000),
                latency,
                rng.choice([None, "u1", "u2"]),
            )
        )
    rows = merge_rows(_aggregate(events, flush_every=333))
    truth: defaultdict[tuple[object, ...], list[ParsedEvent]] = defaultdict(list)
    for e in events:
        moment = datetime.fromtimestamp(e.time_ms / 1000, UTC)
        truth[(_minute(moment), e.service, e.method, e.route, str(e.status))].append(e)
    assert len(rows) == len(truth)
    for row in rows:
        group = truth[(row["time"], row["service"], row["method"], row["route"], row["status"])]
        latencies = [e.latency_ms for e in group if e.latency_ms is not None]
        assert row["events"] == len(group)
        assert row["errors"] == sum(e.status >= 500 for e in group)
        assert row["bytes"] == sum(e.bytes for e in group)
        assert row["latency_count"] == len(latencies)
        assert row["latency_sum"] == sum(latencies)  # eighths: exact in binary floating point
        assert row["latency_min"] == (min(latencies) if latencies else None)
        assert row["latency_max"] == (max(latencies) if latencies else None)
        sketch = row["latency_sketch"]
        assert (sketch.n if sketch else 0) == len(latencies)
        distinct = {e.user for e in group} - {None}
        assert (round(row["users_sketch"].get_estimate()) if distinct else 0) == len(distinct)


def test_out_of_order_and_years_old_events_land_in_their_own_minutes() -> None:
    old = 1431857103000  # 2015-05-17T10:05:03Z
    new = 1795000000000  # 2026-11-18T11:06:40Z
    times = (new, old, new + 60_000, old, old - 60_000, new)
    aggregator = MinuteAggregator()
    aggregator.add_all(ParsedEvent(t, "s", "GET", "/", 200, 1, None, None) for t in times)
    events = {row["time"]: row["events"] for row in aggregator.flush()}
    assert events == {
        "2026-11-18T11:06:00Z": 2,
        "2015-05-17T10:05:00Z": 2,
        "2026-11-18T11:07:00Z": 1,
        "2015-05-17T10:04:00Z": 1,
    }
    assert events == Counter(_minute(datetime.fromtimestamp(t / 1000, UTC)) for t in times)


@pytest.mark.parametrize("n", [1000, 20_000])
def test_latency_quantiles_within_the_sketch_rank_error(n: int) -> None:
    rng = random.Random(n)
    latencies = [rng.lognormvariate(3, 1) for _ in range(n)]
    aggregator = MinuteAggregator()
    aggregator.add_all(ParsedEvent(0, "s", "GET", "/", 200, 0, x, None) for x in latencies)
    (row,) = aggregator.flush()
    ordered = sorted(latencies)
    for q in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99):
        value = row["latency_sketch"].get_quantile(q)
        below = sum(x < value for x in ordered) / n
        at_or_below = sum(x <= value for x in ordered) / n
        assert q - EPS <= at_or_below and below <= q + EPS, (q, below, at_or_below, EPS)
    assert row["latency_min"] == ordered[0] and row["latency_max"] == ordered[-1]


@pytest.mark.parametrize("distinct", [2000, 5000])
def test_unique_users_within_two_percent(distinct: int) -> None:
    rng = random.Random(distinct)
    users = [f"user-{i}@example.com" for i in range(distinct)]
    stream = users + [rng.choice(users) for _ in range(distinct)]  # repeats do not count
    rng.shuffle(stream)
    aggregator = MinuteAggregator()
    aggregator.add_all(ParsedEvent(0, "s", "GET", "/", 200, 0, None, u) for u in stream)
    (row,) = aggregator.flush()
    estimate = row["users_sketch"].get_estimate()
    assert abs(estimate - distinct) <= 0.02 * distinct, estimate


def test_tuple_values_are_accepted_as_events() -> None:
    event = ParsedEvent(0, "s", "GET", "/", 500, 3, 2.0, "u")
    by_record, by_values = MinuteAggregator(), MinuteAggregator()
    by_record.add(event)
    by_values.add(list(event))  # type: ignore[arg-type]  # values, as a bolt receives them
    (a,), (b,) = by_record.flush(), by_values.flush()
    assert {k: v for k, v in a.items() if not k.endswith("sketch")} == {
        k: v for k, v in b.items() if not k.endswith("sketch")
    }
    assert (a["errors"], b["errors"]) == (1, 1)
