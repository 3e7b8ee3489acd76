"""``make bench``: every benchmark, one after another, each printing its own figures.

python -m bench                 all of them, with their default sizes
python -m bench compute ...     one of them; further arguments go to it
"""

from __future__ import annotations

import importlib
import sys

# (module, arguments) as `make bench` runs them
SUITE: list[tuple[str, list[str]]] = [
    ("compute", ["--tuples", "10000000"]),
    ("local_log", []),
    ("collector", []),
    ("pipeline", []),
    ("dashboard", []),  # DuckDB, 24 h at 2,000 events/s; chromium for the page's figures
    ("search", []),  # raw events: worker rate on/off, search p99 over 10 million on DuckDB
    ("storm", ["--profile", "10"]),  # the compute chain vs Storm's LocalCluster (Maven, a JDK)
    ("kafka_raw", []),  # from here on Kafka (and Druid) are needed: `make bench` starts them
    ("collector", ["--broker", "kafka://127.0.0.1:9092"]),
    ("collector", ["--broker", "kafka://127.0.0.1:9092?client=confluent"]),
    ("scaleout", []),  # kafka-python clients
    ("scaleout", ["--broker", "kafka://127.0.0.1:9092?client=confluent"]),
    ("peers", []),  # Squall vs bytewax, faust, plain loops (pip install -e '.[peers]')
    ("druid", []),
    ("compose", []),  # the compose stack: needs a Docker engine (make engine-up)
]

# run on their own (make soak), not by `make bench`
LONG = ["soak", "flume", "anchors"]


def main() -> None:
    names = sorted({name for name, _ in SUITE} | set(LONG))
    if len(sys.argv) > 1:
        name, args = sys.argv[1], sys.argv[2:]
        if name not in names:
            print(__doc__)
            print(f"benchmarks: {', '.join(names)} (python -m bench NAME --help for its options)")
            sys.exit(0 if name in ("-h", "--help") else 2)
        importlib.import_module(f"bench.{name}").main(args)
        return
    for name, args in SUITE:
        importlib.import_module(f"bench.{name}").main(args)
        print()


if __name__ == "__main__":
    main()
