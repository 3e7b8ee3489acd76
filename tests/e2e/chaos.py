"""`make chaos`: the Kafka-outage test, over and over, on a busy machine.

Runs ``test_kafka_stopped_for_20_seconds_mid_run_loses_nothing`` for each Kafka client
``--runs`` times in a row while a CPU hog keeps one core busy, and prints how many
passed and how long recovery took (from Kafka back up to every event in the query
API: p50 and max). Recovery must not depend on timing luck; this is how we check.

Needs the Kafka of ``squall stack up kafka`` (the Makefile target starts it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Process

TEST = (
    "tests/e2e/test_embedded_pipeline.py::test_kafka_stopped_for_20_seconds_mid_run_loses_nothing"
)
RECOVERED = re.compile(r"recovered: ([0-9.]+) s")


def _hog(core: int) -> None:
    os.sched_setaffinity(0, {core})
    while True:
        pass


def run_once(client: str, basetemp: str) -> tuple[bool, float | None, float]:
    """One run of the test: (passed, recovery seconds, wall seconds)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider",
         f"--basetemp={basetemp}", f"{TEST}[{client}]"],
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "true"},
    )  # fmt: skip
    found = RECOVERED.search(done.stdout)
    return done.returncode == 0, float(found[1]) if found else None, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per client (default 10)")
    parser.add_argument(
        "--clients", default="kafka,confluent", help="comma-separated (default kafka,confluent)"
    )
    parser.add_argument("--no-hog", action="store_true", help="leave the other core idle")
    args = parser.parse_args()

    hog = None
    if not args.no_hog:
        core = max(os.sched_getaffinity(0))
        hog = Process(target=_hog, args=(core,), daemon=True)
        hog.start()
        print(f"CPU hog on core {core} (of {os.cpu_count()})")
    failed = 0
    keep = tempfile.mkdtemp(prefix="squall-chaos-")
    try:
        for client in args.clients.split(","):
            recoveries: list[float] = []
            passed = 0
            for i in range(1, args.runs + 1):
                basetemp = os.path.join(keep, f"{client}-{i}")
                ok, recovery, wall = run_once(client, basetemp)
                passed += ok
                if ok:
                    shutil.rmtree(basetemp, ignore_errors=True)
                if recovery is not None:
                    recoveries.append(recovery)
                status = "pass" if ok else f"FAIL (parts' logs in {basetemp})"
                shown = f"{recovery:.1f} s" if recovery is not None else "-"
                print(f"{client} run {i}/{args.runs}: {status}; recovery {shown}; {wall:.0f} s")
                sys.stdout.flush()
            failed += args.runs - passed
            if recoveries:
                p50, worst = statistics.median(recoveries), max(recoveries)
                print(
                    f"{client}: {passed}/{args.runs} passed; "
                    f"recovery p50 {p50:.1f} s, max {worst:.1f} s"
                )
            else:
                print(f"{client}: {passed}/{args.runs} passed")
    finally:
        if hog is not None:
            hog.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
