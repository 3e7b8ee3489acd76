"""The collector side by side with Apache Flume 1.11, the system it is modelled on.

    python -m bench flume [--seconds 10] [--batches 100,1000] [--channels file,memory]
                          [--sinks null,kafka] [--workers 1,2] [--connections 8]
                          [--clients 2] [--kafka 127.0.0.1:9092] [--out bench/results/flume.json]

Both get the same load, one after the other on the same machine: ``--connections``
keep-alive connections, spread over ``--clients`` load processes, posting Flume JSON
events (JSONHandler bodies: ``[{"headers": ..., "body": line}, ...]`` of real
apache_logs lines) in requests of ``--batch`` events; only events in 200 answers count,
and each system's 200 means "in its channel" (Flume's file channel commits with an
fsync, as Squall's does).

- Flume: its HTTP source with the JSONHandler, a file (or memory) channel, one JVM
  (``-Xmx1g``), jars from Maven Central (deploy/stack/poms/flume), and a null sink, or
  its Kafka sink (acks=all, lz4, linger 5 ms, batches of 1,000: as Squall's producer).
- Squall: ``squall collector --workers N`` (uvicorn with uvloop and httptools; each
  worker its own channel segment) with the same channel kind and a null sink, or its
  broker sink into Kafka; the same bodies at ``/events``.
- The load generator alone: the same load against a trivial endpoint (uvicorn, two
  workers, reads the body and answers 200), to show it is not the limit.

With ``--sinks kafka`` both write into one topic of ``--kafka`` (created here, deleted
after); "kafka/s" is what the topic gained during the measured seconds (the sink's
pace, behind the channel's). Each run starts with ``--warm-up`` seconds of load on one
connection (not counted: the JVM compiles its hot path then). Prints, and writes as
JSON with the machine, the versions and the load average at each run: events/s,
p50/p99 request latency, peak RSS (with child processes), non-200 answers, and
Squall's ratio to Flume.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.collector import (
    ROOT,
    _bodies,
    _free_port,
    measure,
    start_collector,
    stop,
    wait_answering,
)
from bench.common import machine
from squall.deploy.stack import POMS, maven, paths
from squall.settings import load_settings

_CONF = """\
agent.sources = http
agent.channels = ch
agent.sinks = out
agent.sources.http.type = http
agent.sources.http.bind = 127.0.0.1
agent.sources.http.port = {port}
agent.sources.http.handler = org.apache.flume.source.http.JSONHandler
agent.sources.http.channels = ch
agent.sinks.out.channel = ch
{channel}
{sink}
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
_NULL_SINK = """\
agent.sinks.out.type = null
agent.sinks.out.batchSize = 1000
"""
_KAFKA_SINK = """\
agent.sinks.out.type = org.apache.flume.sink.kafka.KafkaSink
agent.sinks.out.kafka.bootstrap.servers = {bootstrap}
agent.sinks.out.kafka.topic = {topic}
agent.sinks.out.flumeBatchSize = 1000
agent.sinks.out.kafka.producer.acks = all
agent.sinks.out.kafka.producer.enable.idempotence = true
agent.sinks.out.kafka.producer.compression.type = lz4
agent.sinks.out.kafka.producer.linger.ms = 5
"""
POM = POMS / "flume" / "pom.xml"


def flume_classpath() -> Path:
    """Flume's jars, resolved from Maven Central once (shared with the shipper tests)."""
    where = paths(load_settings())
    lib = where.lib_dir("flume")
    maven.resolve(POM, lib, maven_repo=where.maven_repo)
    return lib


def start_flume(
    port: int, state: Path, channel: str, lib: Path, sink: str = _NULL_SINK
) -> subprocess.Popen[bytes]:
    """A Flume agent: HTTP source on ``port``, ``channel`` (file or memory), ``sink``
    (a sink block of the agent's properties)."""
    java = shutil.which("java")
    if java is None:
        raise SystemExit("java is not on PATH; Flume needs a JRE 11 or newer")
    body = (_FILE if channel == "file" else _MEMORY).format(state=state)
    conf = state / "flume.conf"
    conf.write_text(_CONF.format(port=port, channel=body, sink=sink))
    argv = [java, "-Xms1g", "-Xmx1g", "-cp", f"{lib}/*", "org.apache.flume.node.Application"]
    return subprocess.Popen(
        [*argv, "-n", "agent", "-f", str(conf)],
        cwd=state,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


# -- the trivial endpoint: what the load generator reaches with (almost) no server work --
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def trivial_app(scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI: read the request body, answer 200 ``{}``."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    await send(start)
    await send({"type": "http.response.body", "body": b"{}"})


def start_trivial(port: int, workers: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "uvicorn", "bench.flume:trivial_app", "--port", str(port)]
    options = ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    return subprocess.Popen(
        [*argv, *options, "--loop", "uvloop", "--http", "httptools"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


# -- Kafka: one topic both systems write into ---------------------------------------
class Topic:
    """A topic of its own on ``bootstrap``: created on entry, deleted on exit."""

    def __init__(self, bootstrap: str) -> None:
        from squall.broker.kafka import KafkaBroker

        self.bootstrap = bootstrap
        self.name = f"bench.flume.{uuid.uuid4().hex[:8]}"
        self.broker = KafkaBroker(bootstrap)

    def __enter__(self) -> Topic:
        self.broker.create_topic(self.name, 2)
        return self

    def __exit__(self, *exc: object) -> None:
        import kafka

        admin = kafka.KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.delete_topics([self.name])
        finally:
            admin.close()
            self.broker.close()

    def records(self) -> int:
        """Records in the topic so far (the sum of its partitions' end offsets)."""
        from squall.broker.base import TopicPartition

        tps = [TopicPartition(self.name, p) for p in range(self.broker.partitions(self.name))]
        return sum(self.broker.end_offsets(tps).values())


# -- one measured run -----------------------------------------------------------------
def _start(
    system: str, port: int, tmp: Path, channel: str, lib: Path, topic: Topic | None, client: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``system`` (flume, squall-wN, generator); its process and its POST path.
    ``client``: the Kafka client of Squall's broker sink."""
    if system == "generator":
        return start_trivial(port, 2), "/"
    if system == "flume":
        sink = _NULL_SINK
        if topic is not None:
            sink = _KAFKA_SINK.format(bootstrap=topic.bootstrap, topic=topic.name)
        return start_flume(port, tmp, channel, lib, sink), "/"
    workers = int(system.removeprefix("squall-w"))
    if topic is None:
        return start_collector(port, tmp, channel, workers=workers), "/events"
    broker = f"kafka://{topic.bootstrap}?client={client}"
    proc = start_collector(port, tmp, channel, "broker", broker, workers, topic.name)
    return proc, "/events"


def _run(
    system: str,
    channel: str,
    batch: int,
    args: argparse.Namespace,
    lib: Path,
    topic: Topic | None = None,
) -> dict[str, Any]:
    _, headers, bodies = _bodies("events", batch)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix=f"bench-{system}-") as tmp:
        proc, path = _start(system, port, Path(tmp), channel, lib, topic, args.kafka_client)
        try:
            if system == "flume":  # its HTTP source takes an empty batch once started
                wait_answering(port, proc, 120.0, "Flume", ("POST", "/", b"[]"))
            else:
                wait_answering(port, proc, 60.0, system, ("POST", path, b"[]"))
            if args.warm_up > 0:  # a JVM compiles its hot path in the first seconds
                measure(port, proc.pid, path, headers, bodies, batch, args.warm_up, 1)
            load = os.getloadavg()[0]
            before = topic.records() if topic else 0
            r, rss = measure(
                port,
                proc.pid,
                path,
                headers,
                bodies,
                batch,
                args.seconds,
                args.connections,
                args.clients,
            )
            in_kafka = topic.records() - before if topic else 0
        finally:
            stop(proc)
    return {
        "system": system,
        "channel": channel,
        "sink": "kafka" if topic else "-" if system == "generator" else "null",
        "batch": batch,
        "load_avg_1m": load,
        **r,
        "events_per_s": r["ok"] * batch / r["elapsed"],
        "kafka_per_s": in_kafka / r["elapsed"] if topic else None,
        "rss_max_mib": max((v for _, v in rss), default=0.0),
    }


# -- report ---------------------------------------------------------------------------
_HEADER = (
    f"   {'sink':<5} {'channel':<7} {'batch':>5} {'system':<10} {'events/s':>10} "
    f"{'p50 ms':>7} {'p99 ms':>7} {'RSS MiB':>8} {'non-200':>7} {'kafka/s':>9} {'load':>5}"
)


def _row(r: dict[str, Any]) -> str:
    kafka = f"{r['kafka_per_s']:>9,.0f}" if r["kafka_per_s"] is not None else f"{'':>9}"
    return (
        f"   {r['sink']:<5} {r['channel']:<7} {r['batch']:>5} {r['system']:<10} "
        f"{r['events_per_s']:>10,.0f} {r['p50'] * 1000:>7.1f} {r['p99'] * 1000:>7.1f} "
        f"{r['rss_max_mib']:>8.0f} {r['busy'] + r['other']:>7.0f} {kafka} "
        f"{r['load_avg_1m']:>5.1f}"
    )


def _ratios(rows: list[dict[str, Any]]) -> dict[str, float]:
    flume = next(r["events_per_s"] for r in rows if r["system"] == "flume")
    return {
        r["system"]: r["events_per_s"] / max(flume, 1e-9)
        for r in rows
        if r["system"].startswith("squall")
    }


def versions(lib: Path) -> dict[str, str]:
    """Versions of what ran: Flume and its Kafka client (from the jars), Java, Python
    packages."""
    jars = {p.name for p in lib.glob("*.jar")}

    def jar(prefix: str) -> str:
        found = [n for n in jars if re.fullmatch(rf"{prefix}-\d[\w.]*\.jar", n)]
        return found[0].removeprefix(prefix + "-").removesuffix(".jar") if found else "?"

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    packages = (
        "squall",
        "uvicorn",
        "uvloop",
        "httptools",
        "fastapi",
        "kafka-python",
        "confluent-kafka",
    )
    return {
        "flume": jar("flume-ng-node"),
        "flume_kafka_clients": jar("kafka-clients"),
        "java": java.splitlines()[0] if java else "?",
        "python": sys.version.split()[0],
        **{p: metadata.version(p) for p in packages},
    }


def _cases(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    batches = [int(b) for b in args.batches.split(",")]
    return [
        (sink, channel, batch)
        for sink in args.sinks.split(",")
        for channel in args.channels.split(",")
        for batch in batches
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument(
        "--warm-up", type=float, default=10.0, help="s of load before each measured run"
    )
    parser.add_argument("--batches", default="100,1000")
    parser.add_argument("--channels", default="file,memory")
    parser.add_argument("--sinks", default="null,kafka", help="null and/or kafka")
    parser.add_argument("--workers", default="1,2", help="collector worker counts to run")
    parser.add_argument("--kafka", default="127.0.0.1:9092", help="bootstrap for --sinks kafka")
    parser.add_argument(
        "--kafka-client",
        choices=["kafka-python", "confluent"],
        default="kafka-python",
        help="the Kafka client of Squall's broker sink (kafka-python, Squall's default)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "flume.json")
    args = parser.parse_args(argv)
    print(f"== collector vs Apache Flume 1.11: {machine()}")
    lib = flume_classpath()
    systems = ["flume", *(f"squall-w{w}" for w in args.workers.split(","))]
    print(
        f"   {args.connections} keep-alive connections from {args.clients} processes, Flume "
        f"JSON bodies of real apache_logs lines, {args.seconds:.0f} s per run after "
        f"{args.warm_up:.0f} s of warm-up; counted: events in 200 answers; load = 1-min avg"
    )
    print(_HEADER)
    rows: list[dict[str, Any]] = []
    for batch in (int(b) for b in args.batches.split(",")):
        rows.append(_run("generator", "none", batch, args, lib))
        print(_row(rows[-1]))
    comparisons = []
    for sink, channel, batch in _cases(args):
        with Topic(args.kafka) if sink == "kafka" else contextlib.nullcontext() as topic:
            case = [_run(s, channel, batch, args, lib, topic) for s in systems]
        for r in case:
            print(_row(r))
        ratios = _ratios(case)
        print("   " + ", ".join(f"{s}/flume: {x:.2f}x" for s, x in ratios.items()))
        comparisons.append({"sink": sink, "channel": channel, "batch": batch, "ratios": ratios})
        rows += case
    doc = {
        "machine": machine(),
        "versions": versions(lib),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "runs": rows,
        "ratios": comparisons,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"   written to {args.out}")


if __name__ == "__main__":
    main()
