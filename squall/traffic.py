"""Synthetic JSON log events: live traffic for ``squall demo --generate`` and tests.

Events follow design.md's JSON line shape. A seeded generator gives the same events
every run, so tests can compute their ground truth independently from the same list.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson

__all__ = ["SERVICES", "generate_events", "ndjson"]

SERVICES = ("web", "api", "auth", "search")
_ROUTES = {
    "web": ["/", "/index.html", "/products/{id}", "/cart", "/static/app.js"],
    "api": ["/v1/users/{id}", "/v1/orders/{id}", "/v1/orders", "/v1/health"],
    "auth": ["/login", "/logout", "/token/refresh"],
    "search": ["/search?q={id}", "/suggest?q={id}"],
}
_METHODS = ["GET"] * 8 + ["POST"] * 2 + ["PUT", "DELETE"]
_STATUSES = [200] * 85 + [201, 204, 301, 304] + [400, 401, 403, 404, 404, 429] + [500, 502, 503]


def generate_events(
    count: int | None = None,
    seed: int = 7,
    start: datetime | None = None,
    rate: float = 1000.0,
    users: int = 5000,
) -> Iterator[dict[str, object]]:
    """``count`` events (forever if None), ``rate`` per second of event time from
    ``start`` (default: now), with a long-tailed latency and ``users`` distinct users."""
    rng = random.Random(seed)
    t = (start or datetime.now(UTC)).timestamp()
    step = 1.0 / rate
    n = 0
    while count is None or n < count:
        n += 1
        t += rng.expovariate(1.0 / step)
        service = rng.choice(SERVICES)
        route = rng.choice(_ROUTES[service]).replace("{id}", str(rng.randrange(1, 10_000)))
        status = rng.choice(_STATUSES)
        latency = round(rng.lognormvariate(3.0, 0.8) * (4 if status >= 500 else 1), 3)
        yield {
            "ts": datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds"),
            "service": service,
            "method": rng.choice(_METHODS),
            "path": route,
            "status": status,
            "bytes": rng.randrange(0, 50_000),
            "latency_ms": latency,
            "user": f"user{int(rng.paretovariate(1.2)) % users}",
            "client_ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        }


def ndjson(events: list[dict[str, object]]) -> bytes:
    """Events as an NDJSON body for ``POST /v1/logs``."""
    return b"".join(orjson.dumps(e) + b"\n" for e in events)
