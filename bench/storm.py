"""Squall's compute tier against Apache Storm itself: spout -> bolt -> bolt with acking.

    python -m bench storm [--tuples 1000000] [--warm-up 10] [--seconds 15]
                          [--acking on|off|both] [--profile SECONDS] [--cpu N]

Storm: storm-server's ``LocalCluster`` (one JVM, in-process ZooKeeper, Nimbus and
Supervisor), jars resolved from Maven Central with Maven into the stack's jar cache
(``deploy/stack/poms/storm/pom.xml``, ``squall.deploy.stack.maven``: once, then cached),
running ``bench/storm/ChainBench.java``, compiled here with ``javac`` into a temporary
directory: the chain of bench/compute.py (an increasing counter with message ids, Increment
emitting n + 1 anchored, Sum adding up; parallelism 1 each, one worker, one acker with
acking on and none with it off, max spout pending 5,000 with acking on). Its figures are
taken over ``--seconds`` after ``--warm-up`` seconds of load (the JIT compiles the hot path
first): tuples fully processed (acked by the spout with acking on, executed by the sink with
it off) per second, and the JVM's CPU seconds over that window.

Squall: ``bench.compute.run`` itself (the same topology and config as ``python -m bench
compute``), ``--tuples`` tuples from submit to the last ack (no JIT to warm up; the
topology starts in milliseconds), with this process's CPU seconds over the run.

Printed and written to ``bench/results/storm.json`` (with the machine, the versions and the
1-minute load average before and after each run, since other work on the machine skews
the figures): tuples/s (per process), CPU seconds, tuples per CPU second (per core), and
Squall's ratio to Storm for each. ``--profile S`` then runs Squall's chain with acking on
for about S seconds under pyinstrument (a sampling profiler, 1 ms; the worker thread only,
where the chain runs) and prints the functions taking the most time, self and total.
pyinstrument's hook runs at every Python call and return, so the chain runs ~3x slower
under it and call-heavy code weighs more in its shares than it costs without it.
``--cpu N`` pins both systems to CPU N (one core each, one after the other): per-core
figures that do not rest on CPU accounting.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import compute
from bench.common import machine
from squall.deploy.stack import POMS, maven, paths
from squall.settings import load_settings

SOURCE = Path(__file__).resolve().parent / "storm" / "ChainBench.java"
RESULTS = Path(__file__).resolve().parent / "results" / "storm.json"
JVM_OPTIONS = ["-Xms1g", "-Xmx1g"]

_LOG4J2 = """\
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders><Console name="err" target="SYSTEM_ERR"><PatternLayout pattern="%m%n"/></Console>
  </Appenders>
  <Loggers><Root level="warn"><AppenderRef ref="err"/></Root></Loggers>
</Configuration>
"""


def storm_classpath() -> Path:
    """storm-server's jars, resolved from Maven Central once (the stack's jar cache)."""
    where = paths(load_settings())
    lib = where.lib_dir("storm")
    maven.resolve(POMS / "storm" / "pom.xml", lib, maven_repo=where.maven_repo)
    return lib


def _java(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise SystemExit(f"{tool} is not on PATH; the Storm benchmark needs a JDK 17 or newer")
    return found


def compile_bench(lib: Path, out: Path) -> Path:
    """``ChainBench.java`` compiled against Storm's jars into ``out``."""
    cmd = [_java("javac"), "-d", str(out), "-cp", f"{lib}/*", str(SOURCE)]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    return out


def storm_version(lib: Path) -> str:
    for jar in maven.jars(lib):
        m = re.fullmatch(r"storm-server-(.+)\.jar", jar.name)
        if m:
            return m.group(1)
    return "unknown"


def java_version() -> str:
    done = subprocess.run([_java("java"), "-version"], capture_output=True, text=True)
    return (done.stderr or done.stdout).splitlines()[0].strip()


def load() -> float:
    return os.getloadavg()[0]


def run_storm(
    lib: Path, classes: Path, tracked: bool, warm_up: float, seconds: float, cpu: int | None
) -> dict[str, Any]:
    """One JVM running ChainBench (on CPU ``cpu`` only, with taskset, unless None); its
    figures over the window after the warm-up."""
    log_conf = classes / "log4j2-bench.xml"
    log_conf.write_text(_LOG4J2)
    pin = [] if cpu is None else ["taskset", "-c", str(cpu)]
    argv = [
        *pin,
        _java("java"),
        *JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={log_conf}",
        "-cp",
        f"{lib}/*:{classes}",
        "ChainBench",
        "on" if tracked else "off",
        str(warm_up),
        str(seconds),
    ]
    before = load()
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=warm_up + seconds + 180,
        cwd=classes,
        stdin=subprocess.DEVNULL,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"Storm's ChainBench failed (exit {done.returncode}):\n{tail}")
    r: dict[str, Any] = json.loads(lines[-1])
    if r["failed"]:
        raise RuntimeError(f"Storm failed {r['failed']} spout tuples; its figures do not count")
    r["load_average"] = [before, load()]
    r["per_cpu_s"] = r["tuples"] / r["cpu_s"]
    return r


def run_squall(n: int, tracked: bool, cpu: int | None) -> dict[str, Any]:
    """bench.compute's chain, with this process's CPU seconds over the run (on CPU ``cpu``
    only unless None)."""
    affinity = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        before, t0 = load(), os.times()
        r = compute.run(n, tracked)
        t1 = os.times()
    finally:
        os.sched_setaffinity(0, affinity)
    cpu = (t1.user - t0.user) + (t1.system - t0.system)
    assert r["done"] == n, f"only {r['done']} of {n} tuples completed"
    return {
        "acking": tracked,
        "tuples": n,
        "elapsed": n / r["rate"],
        "cpu_s": cpu,
        "rate": r["rate"],
        "per_cpu_s": n / cpu,
        "complete_latency_ms_p50": r["p50"],
        "complete_latency_ms_p99": r["p99"],
        "load_average": [before, load()],
    }


@contextmanager
def _profiled_worker(interval: float = 0.001) -> Iterator[list[Any]]:
    """Runs every compute Worker thread started inside under pyinstrument; yields the list
    its sessions land in."""
    from pyinstrument import Profiler

    from squall.compute.worker import Worker

    sessions: list[Any] = []
    original = Worker._main

    def profiled(self: Worker) -> None:
        profiler = Profiler(interval=interval, async_mode="disabled")
        profiler.start()
        try:
            original(self)
        finally:
            sessions.append(profiler.stop())

    Worker._main = profiled  # type: ignore[method-assign]
    try:
        yield sessions
    finally:
        Worker._main = original  # type: ignore[method-assign]


def _where(frame: Any) -> str:
    return f"{frame.function} ({frame.file_path_short}:{frame.line_no})"


def profile_summary(session: Any, top: int = 15) -> dict[str, Any]:
    """Self and total time per function over the worker thread's samples."""
    root = session.root_frame()
    own: dict[str, float] = {}
    total: dict[str, float] = {}

    def walk(frame: Any, stack: frozenset[str]) -> None:
        key = _where(frame)
        children = [c for c in frame.children if not c.is_synthetic_leaf]
        own[key] = own.get(key, 0.0) + frame.time - sum(c.time for c in children)
        if key not in stack:  # recursion counts once
            total[key] = total.get(key, 0.0) + frame.time
        for child in children:
            walk(child, stack | {key})

    walk(root, frozenset())
    whole = root.time
    files: dict[str, float] = {}
    for key, seconds in own.items():
        where = key.rsplit("(", 1)[-1].split(":", 1)[0]
        files[where] = files.get(where, 0.0) + seconds

    def share(times: dict[str, float]) -> list[dict[str, Any]]:
        ranked = sorted(times.items(), key=lambda kv: -kv[1])[:top]
        return [
            {"function": k, "seconds": round(v, 3), "percent": round(100 * v / whole, 1)}
            for k, v in ranked
        ]

    return {
        "sampled_s": round(whole, 3),
        "self": share(own),
        "total": share(total),
        "self_by_file": share(files),
    }


def profile(n: int) -> dict[str, Any]:
    before = load()
    with _profiled_worker() as sessions:
        r = compute.run(n, True)
    summary = profile_summary(sessions[0])
    summary.update(tuples=n, rate_under_profiler=r["rate"], load_average=[before, load()])
    return summary


def _fmt_row(label: str, r: dict[str, Any]) -> str:
    return (
        f"   {label:<22} {r['rate']:>11,.0f} {r['cpu_s']:>8.2f} {r['elapsed']:>8.2f}"
        f" {r['cpu_s'] / r['elapsed']:>6.2f} {r['per_cpu_s']:>12,.0f}"
        f"   load {r['load_average'][0]:.2f} -> {r['load_average'][1]:.2f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuples", type=int, default=1_000_000, help="Squall's run")
    parser.add_argument("--warm-up", type=float, default=10.0, help="Storm: s before the window")
    parser.add_argument("--seconds", type=float, default=15.0, help="Storm: the measured window")
    parser.add_argument("--acking", choices=["on", "off", "both"], default="both")
    parser.add_argument(
        "--profile", type=float, default=0.0, help="s of Squall's acking chain under pyinstrument"
    )
    parser.add_argument(
        "--cpu",
        type=int,
        default=None,
        help="pin both to this one CPU (Storm with taskset, Squall with sched_setaffinity)",
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    print("== storm: spout -> bolt -> bolt, Squall's LocalCluster vs Storm's LocalCluster")
    print(f"   machine: {machine()}")
    lib = storm_classpath()
    versions = {
        "storm": storm_version(lib),
        "java": java_version(),
        "python": sys.version.split()[0],
        "squall": version("squall"),
    }
    print(f"   Storm {versions['storm']} on {versions['java']}; Python {versions['python']}")
    base = compute.baseline(min(args.tuples, 2_000_000))
    print(
        f"   Python floor (bench.compute.baseline, plain calls, no runtime): {base:,.0f} tuples/s"
    )
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.acking]
    rows: list[dict[str, Any]] = []
    print(
        f"   {'':<22} {'tuples/s':>11} {'CPU s':>8} {'wall s':>8} {'cores':>6} {'tuples/CPU s':>12}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-storm-") as tmp:
        classes = compile_bench(lib, Path(tmp))
        for tracked in modes:
            mode = "acking on" if tracked else "acking off"
            storm = run_storm(lib, classes, tracked, args.warm_up, args.seconds, args.cpu)
            print(_fmt_row(f"Storm, {mode}", storm), flush=True)
            squall = run_squall(args.tuples, tracked, args.cpu)
            print(_fmt_row(f"Squall, {mode}", squall), flush=True)
            ratios = {
                "tuples_per_s": squall["rate"] / storm["rate"],
                "tuples_per_cpu_s": squall["per_cpu_s"] / storm["per_cpu_s"],
            }
            print(
                f"   Squall / Storm, {mode}: {ratios['tuples_per_s']:.2f}x tuples/s (per process),"
                f" {ratios['tuples_per_cpu_s']:.2f}x tuples per CPU second (per core)"
            )
            rows.append({"acking": tracked, "storm": storm, "squall": squall, "ratios": ratios})

    report: dict[str, Any] = {
        "machine": machine(),
        "versions": versions,
        "storm_jvm_options": JVM_OPTIONS,
        "pinned_to_cpu": args.cpu,
        "storm_warm_up_s": args.warm_up,
        "storm_window_s": args.seconds,
        "squall_tuples": args.tuples,
        "python_baseline_tuples_per_s": base,
        "results": rows,
        "goal": "Squall's chain with acking at least Storm's tuples/s per process (issue 17)",
    }
    if args.profile > 0:
        on = [row for row in rows if row["acking"]]
        rate = on[0]["squall"]["rate"] if on else 60_000.0
        # pyinstrument's hook runs at every Python call: the chain runs ~3x slower under it
        n = max(int(rate * args.profile / 3), 10_000)
        print(f"   profile: Squall, acking on, {n:,} tuples under pyinstrument ...", flush=True)
        prof = profile(n)
        print(
            f"   {prof['sampled_s']:.1f} s sampled on the worker thread "
            f"({prof['rate_under_profiler']:,.0f} tuples/s under the profiler)"
        )
        for kind in ("self", "total", "self_by_file"):
            print(f"   top by {kind.replace('_', ' ')} time:")
            for entry in prof[kind]:
                print(f"     {entry['percent']:5.1f}%  {entry['function']}")
        report["profile"] = prof
    report["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"   written to {args.out}")


if __name__ == "__main__":
    main()
