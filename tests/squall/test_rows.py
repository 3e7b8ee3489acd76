"""Row wire format (``logs.metrics``), decoding errors, merging of deltas, and a metric
added to the schema reaching every stage."""

from __future__ import annotations

import base64
import random
import time
import zlib

import orjson
import pytest
from datasketches import quantiles_doubles_sketch

from squall.compute.topologies.log_metrics.aggregate import MinuteAggregator
from squall.compute.topologies.log_metrics.parse import ParsedEvent
from squall.exceptions import RowFormatError
from squall.rows import (
    COLUMNS,
    KEY_COLUMNS,
    Row,
    decode_row,
    encode_row,
    merge_rows,
    row_key,
)
from squall.schema import DIMENSIONS, HLL_LG_K, METRICS, QUANTILES_K, TIME_COLUMN

EPS = quantiles_doubles_sketch.get_normalized_rank_error(QUANTILES_K, False)
EXACT = [m.name for m in METRICS if m.kind in ("sum", "min", "max")]
BASE = 1431857103000


def _events(n: int, seed: int) -> list[ParsedEvent]:
    rng = random.Random(seed)
    return [
        ParsedEvent(
            BASE + rng.randrange(-2, 3) * 60_000 + rng.randrange(60_000),
            rng.choice(["api", "web", "auth"]),
            rng.choice(["GET", "POST"]),
            rng.choice(["/", "/users/:id", "/login"]),
            rng.choice([200, 200, 301, 404, 500]),
            rng.randrange(50_000),
            rng.choice([None, rng.randrange(0, 80_000) / 16]),  # sixteenths: exact sums
            rng.choice([None, f"user{rng.randrange(3000)}"]),
        )
        for _ in range(n)
    ]


def _rows(events: list[ParsedEvent]) -> list[Row]:
    aggregator = MinuteAggregator()
    aggregator.add_all(events)
    return aggregator.flush()


def test_columns_come_from_the_schema() -> None:
    assert (TIME_COLUMN, *DIMENSIONS) == KEY_COLUMNS
    assert (TIME_COLUMN, *DIMENSIONS, *(m.name for m in METRICS)) == COLUMNS
    for row in _rows(_events(200, 1)):
        assert tuple(row) == COLUMNS
        assert row_key(row) == tuple(row[c] for c in KEY_COLUMNS)


def test_wire_form() -> None:
    event = ParsedEvent(BASE, "api", "GET", "/users/:id", 404, 12, 2.5, "alice")
    (row,) = _rows([event])
    wire = orjson.loads(encode_row(row))
    assert list(wire) == list(COLUMNS)
    assert wire == {
        "time": "2015-05-17T10:05:00Z",
        "service": "api",
        "method": "GET",
        "route": "/users/:id",
        "status_class": "4xx",
        "status": "404",
        "events": 1,
        "errors": 0,
        "bytes": 12,
        "latency_count": 1,
        "latency_sum": 2.5,
        "latency_min": 2.5,
        "latency_max": 2.5,
        "latency_sketch": wire["latency_sketch"],
        "users_sketch": wire["users_sketch"],
    }
    # the sketches are base64 of DataSketches binaries that druid-datasketches reads:
    # quantiles doubles: serial version 3, family 8 (QUANTILES), compact flag, k
    quantiles = base64.b64decode(wire["latency_sketch"], validate=True)
    assert (quantiles[1], quantiles[2], int.from_bytes(quantiles[4:6], "little")) == (
        3,
        8,
        QUANTILES_K,
    )
    assert quantiles[3] & 0x08
    # HLL: serial version 1, family 7 (HLL), lg_k, compact flag, target type HLL_4
    hll = base64.b64decode(wire["users_sketch"], validate=True)
    assert (hll[1], hll[2], hll[3]) == (1, 7, HLL_LG_K)
    assert hll[5] & 0x08
    assert (hll[7] >> 2) & 0x03 == 0


def test_empty_sketches_are_null() -> None:
    (row,) = _rows([ParsedEvent(BASE, "api", "GET", "/", 200, 0, None, None)])
    wire = orjson.loads(encode_row(row))
    assert wire["latency_sketch"] is None and wire["users_sketch"] is None
    assert wire["latency_min"] is None and wire["latency_max"] is None
    assert decode_row(encode_row(row)) == row


def test_round_trip() -> None:
    rows = _rows(_events(3000, 2))
    modes = set()
    for row in rows:
        data = encode_row(row)
        back = decode_row(data)
        assert decode_row(data.decode())["events"] == back["events"]  # text input too
        again = orjson.loads(encode_row(back))
        wire = orjson.loads(data)
        # byte for byte, except that an HLL in SET mode lists its hash set in table order,
        # which a deserialized copy may lay out differently: compare it by meaning
        assert {**again, "users_sketch": None} == {**wire, "users_sketch": None}
        for name in (*KEY_COLUMNS, *EXACT):
            assert back[name] == row[name]
        if row["latency_sketch"] is not None:
            for q in (0.5, 0.95, 0.99):
                want = row["latency_sketch"].get_quantile(q)
                assert back["latency_sketch"].get_quantile(q) == want
            assert back["latency_sketch"].n == row["latency_sketch"].n
        if row["users_sketch"] is not None:
            assert back["users_sketch"].get_estimate() == row["users_sketch"].get_estimate()
            twice = decode_row(encode_row(back))["users_sketch"]
            assert twice.get_estimate() == row["users_sketch"].get_estimate()
            modes.add(base64.b64decode(wire["users_sketch"])[7] & 0x03)
    assert modes == {0, 1}  # LIST and SET mode sketches both went round


def test_merge_of_split_aggregations_equals_the_single_aggregation() -> None:
    events = _events(20_000, 3)
    single = {row_key(r): r for r in _rows(events)}

    # four "workers" by a hash that ignores the key, each flushing every 1,111 events;
    # every delta goes through the wire format, as it would through logs.metrics
    deltas: list[Row] = []
    for worker in range(4):
        part = [e for e in events if zlib.crc32(repr(e).encode()) % 4 == worker]
        for start in range(0, len(part), 1111):
            deltas.extend(decode_row(encode_row(r)) for r in _rows(part[start : start + 1111]))
    assert len(deltas) > len(single)
    merged = {row_key(r): r for r in merge_rows(deltas)}

    assert merged.keys() == single.keys()
    groups: dict[tuple[str, ...], list[ParsedEvent]] = {}
    for event in events:
        groups.setdefault(_key_of(event), []).append(event)
    assert groups.keys() == single.keys()
    for key, want in single.items():
        got = merged[key]
        for name in EXACT:
            assert got[name] == want[name], (key, name)
        # sketches: same count; answers within the sketch error of the truth
        latencies = sorted(e.latency_ms for e in groups[key] if e.latency_ms is not None)
        users = {e.user for e in groups[key] if e.user is not None}
        if latencies:
            sketch = got["latency_sketch"]
            assert sketch.n == len(latencies)
            for q in (0.5, 0.95, 0.99):
                value = sketch.get_quantile(q)
                at_or_below = sum(x <= value for x in latencies) / len(latencies)
                below = sum(x < value for x in latencies) / len(latencies)
                assert q - EPS <= at_or_below and below <= q + EPS
        else:
            assert got["latency_sketch"] is None
        if users:
            sketch = got["users_sketch"]
            assert sketch.get_lower_bound(3) <= len(users) <= sketch.get_upper_bound(3)
        else:
            assert got["users_sketch"] is None


def _key_of(e: ParsedEvent) -> tuple[str, ...]:
    """The row key of an event, computed by hand from the event."""
    minute = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(e.time_ms // 1000))
    return (minute, e.service, e.method, e.route, f"{e.status // 100}xx", str(e.status))


def test_merge_min_max_with_nulls_and_inputs_untouched() -> None:
    with_latency = _rows([ParsedEvent(BASE, "a", "GET", "/", 200, 1, 9.0, "u")])[0]
    without = _rows([ParsedEvent(BASE, "a", "GET", "/", 200, 2, None, None)])[0]
    lower = _rows([ParsedEvent(BASE, "a", "GET", "/", 200, 4, 3.0, "v")])[0]
    before = encode_row(with_latency)
    (merged,) = merge_rows([without, with_latency, lower])
    assert (merged["events"], merged["bytes"], merged["latency_count"]) == (3, 7, 2)
    assert (merged["latency_min"], merged["latency_max"], merged["latency_sum"]) == (3.0, 9.0, 12.0)
    assert merged["latency_sketch"].n == 2
    assert round(merged["users_sketch"].get_estimate()) == 2
    assert encode_row(with_latency) == before
    (alone,) = merge_rows([without, without])
    assert alone["latency_min"] is None and alone["users_sketch"] is None
    assert alone["events"] == 2


def test_merge_keeps_different_keys_apart() -> None:
    a = _rows([ParsedEvent(BASE, "a", "GET", "/", 200, 1, None, None)])[0]
    b = _rows([ParsedEvent(BASE, "a", "GET", "/", 201, 1, None, None)])[0]
    c = _rows([ParsedEvent(BASE + 60_000, "a", "GET", "/", 200, 1, None, None)])[0]
    assert [row_key(r) for r in merge_rows([a, b, c, a])] == [row_key(a), row_key(b), row_key(c)]


def _wire(**changes: object) -> bytes:
    (row,) = _rows([ParsedEvent(BASE, "a", "GET", "/", 200, 1, 1.0, "u")])
    wire = orjson.loads(encode_row(row))
    wire.update(changes)
    return orjson.dumps(wire)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "is not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (orjson.dumps({"time": "2015-05-17T10:05:00Z"}), "lacks the columns"),
        (_wire(time="yesterday"), "'time' 'yesterday' is not ISO-8601"),
        (_wire(time=1431857100), "'time' must be an ISO-8601 string"),
        (_wire(status=None), "dimension 'status' must be a string"),
        (_wire(route=["/"]), "dimension 'route' must be a string"),
        (_wire(events="1"), "metric 'events' must be a number or null"),
        (_wire(latency_min=True), "metric 'latency_min' must be a number or null"),
        (_wire(latency_sketch=5), "latency_sketch must be a base64 string or null"),
        (_wire(latency_sketch="!!!"), "latency_sketch is not valid base64"),
        (
            _wire(users_sketch=base64.b64encode(b"junk").decode()),
            "users_sketch is not a serialized DataSketches hll sketch",
        ),
    ],
)
def test_decode_errors_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(RowFormatError, match=message):
        decode_row(data)


def test_a_number_dimension_is_read_as_its_text_and_a_null_metric_as_no_value() -> None:
    row = decode_row(_wire(status=200, events=None, latency_sketch=None))
    assert (row["status"], row["events"], row["latency_sketch"]) == ("200", None, None)
    (merged,) = merge_rows([row, decode_row(_wire())])
    assert merged["events"] == 1
