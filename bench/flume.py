"""The collector side by side with Apache Flume 1.11, the system it is modelled on.

Both get the same load, one after the other on the same machine: ``--connections``
keep-alive connections posting Flume JSON events (JSONHandler bodies: ``[{"headers": ...,
"body": line}, ...]`` of real apache_logs lines) in requests of ``--batch`` events (100
and 1,000 by default); only events in 200 answers count, and each system's 200 means
"in its channel" (Flume's file channel commits with an fsync, as Squall's does).

- Flume: its HTTP source with the JSONHandler, a file (or memory) channel and a null
  sink, one JVM (``-Xmx1g``), jars from Maven Central (deploy/stack/poms/flume).
- Squall: ``squall collector`` with the same channel kind and a null sink, the same
  bodies at ``/events``.

Each run starts with ``--warm-up`` seconds of load on one connection (not counted: the
JVM compiles its hot path then). Prints events/s, p50/p99 request latency and peak RSS
for each, and Squall's ratio.

    python -m bench flume [--seconds 10] [--batches 100,1000] [--channels file,memory]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.collector import _bodies, _free_port, measure, start_collector, stop, wait_answering
from bench.common import machine
from squall.deploy.stack import POMS, maven, paths
from squall.settings import load_settings

_CONF = """\
agent.sources = http
agent.channels = ch
agent.sinks = null
agent.sources.http.type = http
agent.sources.http.bind = 127.0.0.1
agent.sources.http.port = {port}
agent.sources.http.handler = org.apache.flume.source.http.JSONHandler
agent.sources.http.channels = ch
agent.sinks.null.type = null
agent.sinks.null.batchSize = 1000
agent.sinks.null.channel = ch
{channel}
"""
_FILE = """\
agent.channels.ch.type = file
agent.channels.ch.checkpointDir = {state}/checkpoint
agent.channels.ch.dataDirs = {state}/data
agent.channels.ch.capacity = 2000000
agent.channels.ch.transactionCapacity = 10000
"""
_MEMORY = """\
agent.channels.ch.type = memory
agent.channels.ch.capacity = 2000000
agent.channels.ch.transactionCapacity = 10000
"""


def flume_classpath() -> Path:
    """Flume's jars, resolved from Maven Central once (shared with the shipper tests)."""
    where = paths(load_settings())
    lib = where.lib_dir("flume")
    maven.resolve(POMS / "flume" / "pom.xml", lib, maven_repo=where.maven_repo)
    return lib


def start_flume(port: int, state: Path, channel: str, lib: Path) -> subprocess.Popen[bytes]:
    java = shutil.which("java")
    if java is None:
        raise SystemExit("java is not on PATH; Flume needs a JRE 11 or newer")
    body = (_FILE if channel == "file" else _MEMORY).format(state=state)
    conf = state / "flume.conf"
    conf.write_text(_CONF.format(port=port, channel=body))
    argv = [java, "-Xms1g", "-Xmx1g", "-cp", f"{lib}/*", "org.apache.flume.node.Application"]
    return subprocess.Popen(
        [*argv, "-n", "agent", "-f", str(conf)],
        cwd=state,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _run(system: str, channel: str, batch: int, args: argparse.Namespace, lib: Path) -> dict:
    path, headers, bodies = _bodies("events", batch)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix=f"bench-{system}-") as tmp:
        if system == "flume":
            proc = start_flume(port, Path(tmp), channel, lib)
            path = "/"
        else:
            proc = start_collector(port, Path(tmp), channel)
        try:
            if system == "flume":  # its HTTP source takes an empty batch once started
                wait_answering(port, proc, 120.0, "Flume", ("POST", "/", b"[]"))
            else:
                wait_answering(port, proc)
            if args.warm_up > 0:  # a JVM compiles its hot path in the first seconds
                measure(port, proc.pid, path, headers, bodies, batch, args.warm_up, 1)
            r, rss = measure(
                port, proc.pid, path, headers, bodies, batch, args.seconds, args.connections
            )
        finally:
            stop(proc)
    return {
        **r,
        "events_per_s": r["ok"] * batch / r["elapsed"],
        "rss_max": max((v for _, v in rss), default=0.0),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--warm-up", type=float, default=10.0, help="s of load before each measured run"
    )
    parser.add_argument("--batches", default="100,1000")
    parser.add_argument("--channels", default="file,memory")
    args = parser.parse_args(argv)
    print(f"== collector vs Apache Flume 1.11: {machine()}")
    lib = flume_classpath()
    print(
        f"   {args.connections} keep-alive connections, Flume JSON bodies of real apache_logs "
        f"lines, {args.seconds:.0f} s per run after {args.warm_up:.0f} s of warm-up; counted: "
        "events in 200 answers"
    )
    print(
        f"   {'channel':<8} {'batch':>6} {'system':<7} {'events/s':>10} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'RSS MiB':>8} {'non-200':>8}"
    )
    for channel in args.channels.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            got = {s: _run(s, channel, batch, args, lib) for s in ("flume", "squall")}
            for system, r in got.items():
                print(
                    f"   {channel:<8} {batch:>6} {system:<7} {r['events_per_s']:>10,.0f} "
                    f"{r['p50'] * 1000:>8.1f} {r['p99'] * 1000:>8.1f} {r['rss_max']:>8.0f} "
                    f"{r['busy'] + r['other']:>8.0f}"
                )
            ratio = got["squall"]["events_per_s"] / max(got["flume"]["events_per_s"], 1e-9)
            print(f"   {'':<8} {'':>6} squall/flume: {ratio:.2f}x")


if __name__ == "__main__":
    main()
