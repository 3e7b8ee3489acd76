"""Fixtures for the serve stage: synthetic raw events, the delta rows the log-metrics
aggregator makes of them, ground truth computed from the raw events in plain Python, and
the stores under test.

``store_kind`` is the contract-test parameter: every store implementation is listed in
``STORE_KINDS`` and every test using the ``store`` fixture runs against each of them
(Druid joins here later).
"""

from __future__ import annotations

import random
import socket
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from datasketches import hll_sketch, quantiles_doubles_sketch

from squall.compute.topologies.log_metrics import MinuteAggregator, ParsedEvent
from squall.rows import encode_row
from squall.schema import HLL_LG_K, QUANTILES_K
from squall.serve.app import create_app
from squall.serve.store import Store, open_store

STORE_KINDS = ["duckdb"]

RANK_ERROR = quantiles_doubles_sketch.get_normalized_rank_error(QUANTILES_K, False)
"""Normalized rank error of one quantile of a k=QUANTILES_K sketch (99% confidence)."""

UNIQUE_TOLERANCE = max(0.02, 2 * abs(hll_sketch.get_rel_err(True, True, HLL_LG_K, 1)))
"""Allowed relative error of unique_users: 2%, or two standard errors of a union of
lg_k=HLL_LG_K HLL sketches if that is larger (1.6% each at lg_k 12, so 3.2%): a hard 2%
per group is not something the sketch itself promises (one group of 1,388 users here
reads 2.2% low; the other ~4,000 checks are within 2%)."""

EPOCH = datetime(1970, 1, 1)
START = datetime(2015, 5, 17, 22, 30)  # the data crosses a day boundary
SPAN_MINUTES = 150
SERVICES = ("web", "api", "auth")
METHODS = ("GET", "POST", "PUT")
ROUTES = ("/", "/users/:id", "/orders/:id", "/login", "/static/app.js", "/search", "/cart")
STATUSES = (200, 200, 200, 201, 304, 404, 500, 503)


@dataclass(frozen=True)
class Event:
    """One raw event, as the parser would hand it to the aggregator."""

    time: datetime  # naive UTC
    service: str
    method: str
    route: str
    status: int
    bytes: int
    latency: float | None
    user: str | None

    def dim(self, name: str) -> str:
        if name == "status":
            return str(self.status)
        if name == "status_class":
            return f"{self.status // 100}xx"
        value: str = getattr(self, name)
        return value


def make_events(n: int, seed: int = 7) -> list[Event]:
    """``n`` events over SPAN_MINUTES, shuffled (out of order), skewed like real traffic."""
    rng = random.Random(seed)
    users = [f"user-{i}" for i in range(2500)]
    out = []
    for _ in range(n):
        at = START + timedelta(seconds=rng.uniform(0, SPAN_MINUTES * 60))
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        route = rng.choices(ROUTES, weights=(30, 20, 15, 10, 8, 5, 2))[0]
        status = rng.choice(STATUSES)
        latency = None if rng.random() < 0.1 else round(rng.lognormvariate(3.5, 0.8), 3)
        user = None if rng.random() < 0.05 else rng.choice(users[: rng.choice((50, 2500))])
        out.append(
            Event(
                at,
                rng.choice(SERVICES),
                rng.choice(METHODS),
                route,
                status,
                rng.randrange(0, 50_000),
                latency,
                user,
            )
        )
    return out


def delta_rows(events: list[Event], flushes: int, seed: int = 3) -> list[dict[str, Any]]:
    """The ``logs.metrics`` rows (decoded JSON) the aggregator emits for ``events`` when it
    flushes ``flushes`` times; the same key recurs across flushes, as live deltas do."""
    rng = random.Random(seed)
    aggregator = MinuteAggregator()
    cuts = sorted(rng.sample(range(1, len(events)), flushes - 1)) if flushes > 1 else []
    rows: list[dict[str, Any]] = []
    begin = 0
    for end in [*cuts, len(events)]:
        aggregator.add_all(
            ParsedEvent(
                int((e.time - EPOCH).total_seconds() * 1000),
                e.service,
                e.method,
                e.route,
                e.status,
                e.bytes,
                e.latency,
                e.user,
            )
            for e in events[begin:end]
        )
        rows.extend(orjson.loads(encode_row(row)) for row in aggregator.flush())
        begin = end
    return rows


# -- ground truth ------------------------------------------------------------------------


def floor(t: datetime, granularity: str, start: datetime) -> datetime:
    if granularity == "minute":
        return t.replace(second=0, microsecond=0)
    if granularity in ("five_minute", "fifteen_minute"):
        step = 5 if granularity == "five_minute" else 15
        return t.replace(minute=t.minute - t.minute % step, second=0, microsecond=0)
    if granularity == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    if granularity == "day":
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    return start


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


@dataclass
class Group:
    """Everything needed to compute every metric of one result row exactly."""

    events: int = 0
    errors: int = 0
    bytes: int = 0
    latencies: list[float] | None = None
    users: set[str] | None = None

    def add(self, e: Event) -> None:
        self.events += 1
        self.errors += e.status >= 500
        self.bytes += e.bytes
        if self.latencies is None:
            self.latencies, self.users = [], set()
        assert self.users is not None
        if e.latency is not None:
            self.latencies.append(e.latency)
        if e.user is not None:
            self.users.add(e.user)


def truth(
    events: list[Event],
    start: datetime,
    end: datetime,
    granularity: str,
    dims: tuple[str, ...] = (),
    filters: dict[str, Any] | None = None,
) -> dict[tuple[str, ...], Group]:
    """(ISO bucket timestamp, *dimension values) -> Group, from the raw events. Events
    count in the minute of their time, so the interval applies to that minute."""
    wanted = {
        d: {str(v) for v in (vals if isinstance(vals, list) else [vals])}
        for d, vals in (filters or {}).items()
    }
    out: dict[tuple[str, ...], Group] = defaultdict(Group)
    for e in events:
        minute = e.time.replace(second=0, microsecond=0)
        if not start <= minute < end:
            continue
        if any(e.dim(d) not in vals for d, vals in wanted.items()):
            continue
        key = (iso(floor(minute, granularity, start)), *(e.dim(d) for d in dims))
        out[key].add(e)
    return dict(out)


def check_quantile(value: float | None, values: list[float], fraction: float) -> None:
    """``value`` must be a quantile of ``values`` at ``fraction`` within the rank error."""
    if not values:
        assert value is None
        return
    assert value is not None
    n = len(values)
    below = sum(1 for v in values if v < value) / n
    at_or_below = sum(1 for v in values if v <= value) / n
    assert below - RANK_ERROR <= fraction <= at_or_below + RANK_ERROR, (
        f"p{fraction * 100:g}={value}: its rank is {below:.4f}..{at_or_below:.4f}, "
        f"allowed error {RANK_ERROR:.4f} (n={n})"
    )


def expected_value(metric: str, g: Group) -> Any:
    """The exact value of a non-sketch metric."""
    lat = g.latencies or []
    return {
        "events": g.events,
        "errors": g.errors,
        "bytes": g.bytes,
        "error_rate": g.errors / g.events if g.events else None,
        "latency_avg": sum(lat) / len(lat) if lat else None,
        "latency_min": min(lat) if lat else None,
        "latency_max": max(lat) if lat else None,
    }[metric]


def check_metric(metric: str, got: Any, g: Group) -> None:
    """Exact metrics exactly (floats to rounding), sketch metrics within their error."""
    if metric.startswith("latency_p"):
        check_quantile(got, g.latencies or [], int(metric[len("latency_p") :]) / 100)
    elif metric == "unique_users":
        true = len(g.users or ())
        assert abs(got - true) <= UNIQUE_TOLERANCE * true, f"unique_users {got} vs {true}"
    else:
        want = expected_value(metric, g)
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-9), metric
        else:
            assert got == want, metric
            assert type(got) is type(want), f"{metric}: {got!r} is not {type(want).__name__}"


def check_rows(
    rows: list[dict[str, Any]], want: dict[tuple[str, ...], Group], dims: tuple[str, ...]
) -> None:
    """Every metric of every result row against the group of the same key (empty if none)."""
    for row in rows:
        group = want.get((row["timestamp"], *(row[d] for d in dims)), Group())
        for metric in ALL_METRICS:
            if metric in row:
                check_metric(metric, row[metric], group)


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


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gt() -> Any:
    """The helpers above (``gt.truth``, ``gt.check_rows``...); test modules cannot import
    this conftest under pytest's importlib mode."""
    return sys.modules[__name__]


@pytest.fixture(scope="session")
def events() -> list[Event]:
    return make_events(20_000)


@pytest.fixture(scope="session")
def rows(events: list[Event]) -> list[dict[str, Any]]:
    return delta_rows(events, flushes=6)


@pytest.fixture(scope="session")
def few_events() -> list[Event]:
    """A smaller set for tests that write through files and brokers."""
    return make_events(4_000, seed=11)


@pytest.fixture(scope="session")
def few_rows(few_events: list[Event]) -> list[dict[str, Any]]:
    return delta_rows(few_events, flushes=4)


def _open(kind: str) -> Store:
    if kind == "duckdb":
        return open_store("duckdb://:memory:")
    raise AssertionError(f"no fixture for store kind {kind}")


@pytest.fixture(scope="module", params=STORE_KINDS)
def loaded_store(request: pytest.FixtureRequest, rows: list[dict[str, Any]]) -> Iterator[Store]:
    """A store of each kind holding ``rows``, written in several batches (module-scoped:
    the tests using it only read)."""
    store = _open(request.param)
    for i in range(0, len(rows), 4000):
        store.write(rows[i : i + 4000])
    yield store
    store.close()


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty store of each kind."""
    s = _open(request.param)
    yield s
    s.close()


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: object) -> None:
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only then;
        # without it every response waits ~40 ms on delayed ACKs
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.01)  # polling the started flag, not synchronisation by sleep
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


@contextmanager
def http_client(app: object) -> Iterator[httpx.Client]:
    """A client for ``app`` served over real HTTP on 127.0.0.1."""
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def serve_http() -> Callable[[object], Any]:
    """``with serve_http(app) as client:`` -- a live server for ``app`` and its client."""
    return http_client


@pytest.fixture(scope="module")
def client(loaded_store: Store) -> Iterator[httpx.Client]:
    with http_client(create_app(loaded_store)) as c:
        yield c


Post = Callable[[dict[str, Any]], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def query(client: httpx.Client) -> Post:
    """POST a query to the API; returns its rows (asserting 200)."""

    def post(body: dict[str, Any]) -> list[dict[str, Any]]:
        response = client.post("/api/v1/query", json=body)
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows

    return post
