"""squall/schema.py is the one place a metric is defined: one added there (of a kind that
exists) is computed, encoded, merged, stored by DuckDB and ingested by Druid's spec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

DATA = Path(__file__).resolve().parents[1] / "data" / "apache_logs"

# Runs in a fresh interpreter: the schema gets two metrics before anything reads it.
SCRIPT = r"""
import sys
import orjson
import squall.schema as schema

schema.METRICS = (
    *schema.METRICS,
    schema.Metric("bytes_max", "max", "bytes", "largest response"),
    schema.Metric("redirects", "sum", "300 <= status < 400", "3xx answers"),
)
from squall.compute.topologies.log_metrics import MinuteAggregator, ParsedEvent, parse_event
from squall.druid_spec import data_schema
from squall.rows import decode_row, encode_row, merge_rows
from squall.serve.duckdb_store import DuckDBStore

aggregator = MinuteAggregator()
events = [parse_event({"service": "site"}, line) for line in open(sys.argv[1])]
aggregator.add_all(e for e in events if isinstance(e, ParsedEvent))
wire = [encode_row(row) for row in aggregator.flush()]
merged = merge_rows(decode_row(w) for w in wire)
with DuckDBStore(":memory:") as store:
    store.write([orjson.loads(w) for w in wire])
    stored = store._con.execute(
        "SELECT max(bytes_max), sum(redirects) FROM log_metrics"
    ).fetchone()
spec = data_schema()
print(orjson.dumps({
    "rows": {"bytes_max": max(r["bytes_max"] for r in merged),
             "redirects": sum(r["redirects"] for r in merged)},
    "stored": {"bytes_max": stored[0], "redirects": stored[1]},
    "druid": [m for m in spec["metricsSpec"] if m["name"] in ("bytes_max", "redirects")],
}).decode())
"""


def test_a_metric_added_to_the_schema_reaches_every_stage() -> None:
    # ground truth by plain splitting of the log lines
    sizes, redirects = [], 0
    for line in DATA.read_text().splitlines():
        status, size = line.split('"')[2].split()[:2]
        sizes.append(0 if size == "-" else int(size))
        redirects += 300 <= int(status) < 400
    assert redirects > 0

    done = subprocess.run([sys.executable, "-c", SCRIPT, str(DATA)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = orjson.loads(done.stdout)
    want = {"bytes_max": max(sizes), "redirects": redirects}
    assert found["rows"] == want
    assert found["stored"] == want
    assert found["druid"] == [
        {"type": "doubleMax", "name": "bytes_max", "fieldName": "bytes_max"},
        {"type": "doubleSum", "name": "redirects", "fieldName": "redirects"},
    ]
