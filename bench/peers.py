"""Squall's compute tier against the Python stream processors users would pick instead.

    pip install -e '.[peers]'          # the peers: not in the main install (pyproject.toml)
    python -m bench peers [--bootstrap 127.0.0.1:9092] [--events 300000] [--engines a,b]

Needs a running Kafka (``squall stack up kafka``). Every engine does the same job from the
same Kafka topic, one process each: per-minute count, bytes and p95 latency by (service,
route, status), from raw Flume events as the collector writes them to ``logs.raw``
(squall.traffic's JSON events, ``id`` header, keyed by service, 6 partitions; 1% of them
sent twice, as the collector's at-least-once delivery may, so an engine that does not
de-duplicate counts them twice and is wrong).

Engines:

* ``squall`` / ``squall-confluent``: ``squall topology run log-metrics`` (one worker,
  ``SQUALL_EVENTS=0``: no ``logs.events`` output, which no peer writes) with its own
  consumer group, through kafka-python (the default) and through confluent-kafka. Its
  answer is read back from the metrics topic it writes (transactionally).
* ``confluent-loop`` / ``kafka-python-loop``: a plain consumer loop doing the same
  per-event work (``Job``: orjson decode, de-duplication by ``id``, Squall's
  ``parse_event``, its ``MinuteAggregator`` with the same DataSketches), batches of
  2,000; librdkafka's fetch.queue.backoff.ms (1 s by default) is cut to 10 ms. The
  Python ceiling.
* ``bytewax``, ``faust``: the same ``Job`` inside the framework (bytewax's KafkaSource
  and ``flat_map_batch``; a faust agent, event by event: batches of ``stream.take`` were
  no faster), state in process memory, no output topic. ``quixstreams`` is not
  installable beside our confluent-kafka pin (see pyproject.toml); an engine whose
  package is missing is skipped with the reason.

The peers and loops keep their answer in memory and hand it back; they write nothing to
Kafka and commit nothing, which favours them. Each runs in a child process (this module
with ``--run-engine``) with Squall's worker GC settings (squall.gc_tuning).

Measured: events/s (Kafka records, duplicates included) from the first record to the
last; CPU seconds of the engine's process per million records over that window; peak RSS
(VmHWM) of the process; each as a ratio to Squall (kafka-python). For Squall the window
runs from its first checkpoint commit to the commit that reaches the end (commits come
every second, so marks are at commits, polled every 20 ms). Before any speed counts,
the answer is checked against ground truth computed here from the generated events
(exact counts and bytes per key; p95 must lie within 2.5% of rank of the exact p95,
the quantiles sketch's error at k=128): a wrong answer is reported as wrong.
Results go to ``bench/results/peers.json`` with the machine and the package versions.
The issue's goals are reported, not asserted.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import confluent_kafka
import orjson
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.common import machine
from bench.scaleout import cpu_seconds
from squall.broker import Broker, TopicPartition, open_broker
from squall.compute.topologies.log_metrics import MinuteAggregator, Rejected, parse_event
from squall.compute.topologies.log_metrics.route import template_route
from squall.gc_tuning import WORKER_THRESHOLDS, frozen_gc
from squall.processes import ProcessGroup, child_env
from squall.rows import decode_row
from squall.sketches import QUANTILES
from squall.traffic import generate_events

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka

PARTITIONS = 6
DUPLICATE_EVERY = 100  # every 100th event is sent twice
BATCH = 2000
START = datetime(2026, 1, 1, tzinfo=UTC)  # event times: fixed, so the minutes are known
RANK_TOLERANCE = 0.025
RESULTS = Path(__file__).resolve().parent / "results" / "peers.json"
GOALS = {"best peer": 2.0, "confluent-loop": 0.8, "kafka-python-loop": 0.5}
PEER_PACKAGES = {"bytewax": "bytewax", "faust": "faust", "quixstreams": "quixstreams"}
NOT_INSTALLABLE = {
    "quixstreams": "every 3.x release needs confluent-kafka<2.13 (Squall pins 2.16.1); "
    "what resolves beside the pin is 0.5.7, the old Quix SDK with another API",
}
ENGINES = [
    "squall",
    "squall-confluent",
    "confluent-loop",
    "kafka-python-loop",
    "bytewax",
    "faust",
    "quixstreams",
]

Key = tuple[str, str, str, str]
"""(minute ISO, service, route, status)."""
Answer = dict[Key, tuple[int, int, float | None]]
"""Per key: count, bytes, p95 latency."""


# -- the input and the truth ------------------------------------------------------------


def make_events(n: int) -> list[dict[str, Any]]:
    return list(generate_events(count=n, seed=11, start=START))


def records_of(events: list[dict[str, Any]]) -> Iterable[tuple[bytes, bytes]]:
    """(key, value) of each Flume event; every DUPLICATE_EVERY-th one twice."""
    for i, e in enumerate(events):
        service = str(e["service"])
        value = orjson.dumps(
            {"headers": {"id": f"e{i}", "service": service}, "body": orjson.dumps(e).decode()}
        )
        yield service.encode(), value
        if i % DUPLICATE_EVERY == 0:
            yield service.encode(), value


def fill(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> int:
    """Write the records to a new topic; how many."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result()
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "queue.buffering.max.messages": 1_000_000}
    )
    n = 0
    for key, value in records_of(events):
        producer.produce(topic, value, key)
        n += 1
        if n % 1000 == 0:
            producer.poll(0)
    if producer.flush(60):
        raise RuntimeError(f"records to {topic} not delivered")
    return n


def ground_truth(events: list[dict[str, Any]]) -> dict[Key, tuple[int, int, list[float]]]:
    """Count, bytes and sorted latencies per key, straight from the generated dicts
    (not through Squall's parser; only the route template is its definition)."""
    cells: dict[Key, tuple[list[int], list[float]]] = {}
    for e in events:
        ms = int(datetime.fromisoformat(str(e["ts"])).timestamp() * 1000)
        minute = datetime.fromtimestamp(ms // 60_000 * 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        key = (minute, str(e["service"]), template_route(str(e["path"])), str(e["status"]))
        sums, latencies = cells.setdefault(key, ([0, 0], []))
        sums[0] += 1
        sums[1] += int(e["bytes"])
        latencies.append(float(e["latency_ms"]))
    return {k: (s[0], s[1], sorted(lat)) for k, (s, lat) in cells.items()}


def check(answer: Answer, truth: dict[Key, tuple[int, int, list[float]]]) -> list[str]:
    """What is wrong with ``answer`` (empty when right), at most 5 examples."""
    problems = []
    if set(answer) != set(truth):
        missing, extra = len(set(truth) - set(answer)), len(set(answer) - set(truth))
        problems.append(f"{missing} keys missing, {extra} keys not in the input")
    for key, (count, size, latencies) in truth.items():
        if key not in answer:
            continue
        got_count, got_size, p95 = answer[key]
        if (got_count, got_size) != (count, size):
            problems.append(f"{key}: count/bytes {got_count}/{got_size}, truth {count}/{size}")
        elif p95 is None or not rank_ok(latencies, p95):
            problems.append(f"{key}: p95 {p95} is not within {RANK_TOLERANCE:.1%} of rank 0.95")
    return problems[:5] + ([f"... {len(problems) - 5} more"] if len(problems) > 5 else [])


def rank_ok(latencies: list[float], value: float) -> bool:
    n = len(latencies)
    low, high = bisect.bisect_left(latencies, value) / n, bisect.bisect_right(latencies, value) / n
    return low - RANK_TOLERANCE <= 0.95 <= high + RANK_TOLERANCE


# -- the job every Python engine runs ---------------------------------------------------


class Job:
    """Squall's per-event work: decode, de-duplicate by ``id`` (a window of 200,000 ids,
    as the spout), ``parse_event``, ``MinuteAggregator``. Marks the window from the first
    batch to the one that brings the count to ``expected`` records."""

    def __init__(self, expected: int, window: int = 200_000) -> None:
        self.expected, self.window = expected, window
        self.records = 0
        self.seen: set[str] = set()
        self.order: deque[str] = deque()
        self.aggregator = MinuteAggregator()
        self.rows: list[dict[str, Any]] = []
        self.start: tuple[float, float] | None = None
        self.end: tuple[float, float] | None = None

    def add_batch(self, values: list[Any]) -> None:
        """Process one batch of record values (bytes)."""
        if self.start is None:
            self.start = _clock()
        seen, order = self.seen, self.order
        parsed: list[Any] = []
        for value in values:  # hot
            event = orjson.loads(value)
            headers = event.get("headers") or {}
            event_id = headers.get("id")
            if event_id:  # as the spout: an event without an id is never a repeat
                if event_id in seen:
                    continue
                seen.add(event_id)
                order.append(event_id)
                if len(order) > self.window:
                    seen.discard(order.popleft())
            p = parse_event(headers, event.get("body") or "")
            if type(p) is not Rejected:
                parsed.append(p)
        self.aggregator.add_all(parsed)
        self.records += len(values)
        if self.records >= self.expected and self.end is None:
            self.end = _clock()
            self.rows = self.aggregator.flush()

    @property
    def done(self) -> bool:
        return self.end is not None


def _clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def answer_of(rows: Iterable[dict[str, Any]]) -> Answer:
    """Aggregate rows (any method, any number of flushes) -> the job's answer."""
    cells: dict[Key, tuple[list[int], list[Any]]] = {}
    for row in rows:
        key = (row["time"], row["service"], row["route"], row["status"])
        sums, sketches = cells.setdefault(key, ([0, 0], []))
        sums[0] += row["events"]
        sums[1] += row["bytes"]
        sketches.append(row["latency_sketch"])
    answer: Answer = {}
    for key, (sums, sketches) in cells.items():
        merged = QUANTILES.union(sketches)
        p95 = None if merged is None or merged.is_empty() else float(merged.get_quantile(0.95))
        answer[key] = (sums[0], sums[1], p95)
    return answer


# -- the engines, each in a child process -----------------------------------------------


def run_confluent_loop(bootstrap: str, topic: str, job: Job) -> None:
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-peers-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "fetch.queue.backoff.ms": 10,  # default 1,000: a fast consumer waits on it
        }
    )
    consumer.subscribe([topic])
    while not job.done:
        messages = consumer.consume(BATCH, 0.5)
        values = [m.value() for m in messages if m.error() is None]
        if values:
            job.add_batch(values)
    consumer.close()


def run_kafka_python_loop(bootstrap: str, topic: str, job: Job) -> None:
    consumer = kafka.KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-peers-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_poll_records=BATCH,
        fetch_max_wait_ms=100,  # as Squall's consumer (squall.broker.kafka.options)
    )
    while not job.done:
        for records in consumer.poll(timeout_ms=500).values():
            job.add_batch([r.value for r in records])
    consumer.close(autocommit=False)


def run_bytewax(bootstrap: str, topic: str, job: Job) -> None:
    import bytewax.operators as op
    from bytewax.connectors.kafka import KafkaSource
    from bytewax.dataflow import Dataflow
    from bytewax.testing import run_main

    def work(messages: list[Any]) -> list[Any]:
        job.add_batch([m.value for m in messages])
        return []

    flow = Dataflow("peers")
    config = {"fetch.queue.backoff.ms": "10", "isolation.level": "read_committed"}
    source = KafkaSource([bootstrap], [topic], tail=False, add_config=config, batch_size=BATCH)
    done = op.flat_map_batch("work", op.input("in", flow, source), work)
    op.inspect("end", done, lambda _step, _item: None)  # a dataflow needs an output step
    run_main(flow)  # type: ignore[no-untyped-call]  # tail=False: returns at the end of every partition


def run_faust(bootstrap: str, topic: str, job: Job) -> None:
    import faust

    with tempfile.TemporaryDirectory() as tmp:
        app = faust.App(
            f"bench-peers-{uuid.uuid4().hex[:8]}",
            broker=f"kafka://{bootstrap}",
            datadir=tmp,
            web_enabled=False,
            topic_disable_leader=True,
            consumer_auto_offset_reset="earliest",
            broker_max_poll_records=BATCH,
        )
        source = app.topic(topic, value_type=bytes, value_serializer="raw")

        @app.agent(source)
        async def work(stream: Any) -> None:
            async for value in stream:
                job.add_batch([value])
                if job.done:
                    report_and_exit(job)

        faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


RUNNERS: dict[str, Callable[[str, str, Job], None]] = {
    "confluent-loop": run_confluent_loop,
    "kafka-python-loop": run_kafka_python_loop,
    "bytewax": run_bytewax,
    "faust": run_faust,
}
_result_path = ""


def report_and_exit(job: Job) -> None:
    """Write the child's result (measures and answer) and leave; faust does not return."""
    assert job.start and job.end
    answer = answer_of(job.rows)
    result = {
        "records": job.records,
        "seconds": job.end[0] - job.start[0],
        "cpu": job.end[1] - job.start[1],
        # VmHWM, not ru_maxrss: that is inherited across fork and exec (the parent's events)
        "peak_rss_mib": _vm_hwm(os.getpid()),
        "answer": [[*k, *v] for k, v in answer.items()],
    }
    Path(_result_path).write_bytes(orjson.dumps(result))
    sys.stdout.flush()
    os._exit(0)


def child(name: str, bootstrap: str, topic: str, records: int, result: str) -> None:
    global _result_path
    _result_path = result
    job = Job(records)
    with frozen_gc(WORKER_THRESHOLDS):
        RUNNERS[name](bootstrap, topic, job)
    report_and_exit(job)


def run_child(name: str, bootstrap: str, topic: str, records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.json"
        argv = [sys.executable, "-m", "bench", "peers", "--run-engine", name]
        argv += ["--bootstrap", bootstrap, "--topic", topic, "--records", str(records)]
        subprocess.run([*argv, "--result", str(path)], check=True, timeout=600)
        result: dict[str, Any] = orjson.loads(path.read_bytes())
    result["answer"] = {tuple(r[:4]): tuple(r[4:]) for r in result["answer"]}
    return result


# -- Squall ------------------------------------------------------------------------------


def run_squall(bootstrap: str, topic: str, records: int, client: str) -> dict[str, Any]:
    """The log-metrics topology, one worker; marks at its checkpoint commits."""
    url = f"kafka://{bootstrap}" + ("?client=confluent" if client == "confluent" else "")
    run = uuid.uuid4().hex[:8]
    prefix, metrics = f"bench-peers-{run}", f"bench.peers.metrics.{run}"
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = child_env(
                data_dir=tmp,
                broker=url,
                topic_raw=topic,
                topic_metrics=metrics,
                topic_deadletter=f"bench.peers.deadletter.{run}",
                group_prefix=prefix,
                events="0",
            )
            parts = ProcessGroup(env, Path(tmp) / "logs")
            parts.start("topology", "topology", "run", "log-metrics", "--workers", "1")
            try:
                with open_broker(f"kafka://{bootstrap}") as broker:
                    marks = _squall_marks(parts, broker, topic, f"{prefix}-log-metrics", records)
            finally:
                parts.stop()
        rows = read_metrics(bootstrap, metrics)
    finally:
        with contextlib.suppress(Exception):
            admin.delete_topics([metrics, f"bench.peers.deadletter.{run}"])
        admin.close()
    (t0, done0, cpu0), (t1, done1, cpu1, hwm) = marks
    return {
        "records": done1 - done0,
        "seconds": t1 - t0,
        "cpu": cpu1 - cpu0,
        "peak_rss_mib": hwm,
        "answer": answer_of(rows),
    }


def _squall_marks(
    parts: ProcessGroup, broker: Broker, topic: str, group: str, records: int
) -> tuple[Any, Any]:
    """(time, committed, CPU) at the first commit and (..., peak RSS) at the last."""
    pid = parts.pid("topology")
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    start = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        parts.check()
        done = sum(broker.committed(group, tp) or 0 for tp in tps)
        now = time.perf_counter()
        if start is None and done > 0:
            start = (now, done, cpu_seconds(pid))
        if done >= records:
            if start is None or start[1] >= records:
                raise RuntimeError("the first commit came at the end: use more --events")
            return start, (now, done, cpu_seconds(pid), _vm_hwm(pid))
        time.sleep(0.02)
    raise RuntimeError(f"{group} did not reach {records} records in 600 s")


def _vm_hwm(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def read_metrics(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every committed row of the metrics topic."""
    consumer = kafka.KafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    tps = [kafka.TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    rows = []
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        for batch in consumer.poll(timeout_ms=500).values():
            rows += [decode_row(r.value) for r in batch]
    consumer.close()
    return rows


# -- the run and its report --------------------------------------------------------------


def missing_reason(name: str) -> str | None:
    """Why an engine cannot run here, or None."""
    package = PEER_PACKAGES.get(name)
    if package is None or importlib.util.find_spec(package) is not None:
        return None
    why = NOT_INSTALLABLE.get(name, "pip install -e '.[peers]'")
    return f"{name} is not installed: {why}"


def versions() -> dict[str, str]:
    found = {"librdkafka": confluent_kafka.libversion()[0]}
    for dist in (
        "squall",
        "kafka-python",
        "confluent-kafka",
        "orjson",
        "datasketches",
        "bytewax",
        "faust-streaming",
        "aiokafka",
        "quixstreams",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[dist] = importlib.metadata.version(dist)
    return found


def measure(name: str, bootstrap: str, topic: str, records: int) -> dict[str, Any]:
    if name.startswith("squall"):
        client = "confluent" if name == "squall-confluent" else "kafka-python"
        return run_squall(bootstrap, topic, records, client)
    return run_child(name, bootstrap, topic, records)


def summarise(name: str, result: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    rate = result["records"] / result["seconds"]
    return {
        "engine": name,
        "correct": not problems,
        "problems": problems,
        "events_per_s": rate,
        "cpu_s_per_million": result["cpu"] * 1e6 / result["records"],
        # events per CPU second of the engine's process: steadier than events/s on a
        # shared machine (the rate one core would give, were the engine alone on it)
        "events_per_cpu_s": result["records"] / result["cpu"],
        "peak_rss_mib": result["peak_rss_mib"],
        "window_s": result["seconds"],
        "records_in_window": result["records"],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    base = next((r for r in rows if r["engine"] == "squall" and r["correct"]), None)
    print(
        f"   {'engine':<18} {'events/s':>10} {'x squall':>8} {'CPU s/M':>8} {'x':>6}"
        f" {'peak RSS':>9} {'x':>6}  load avg before/after"
    )
    for r in rows:
        if not r["correct"]:
            verdict = "FAILED" if "window_s" not in r else "WRONG"
            print(f"   {r['engine']:<18} {verdict}: {'; '.join(r['problems'])}")
            continue
        ratios = ["", "", ""]
        if base:
            ratios = [
                f"{r[k] / base[k]:.2f}"
                for k in ("events_per_s", "cpu_s_per_million", "peak_rss_mib")
            ]
        print(
            f"   {r['engine']:<18} {r['events_per_s']:>10,.0f} {ratios[0]:>8}"
            f" {r['cpu_s_per_million']:>8.1f} {ratios[1]:>6} {r['peak_rss_mib']:>7.0f} MiB"
            f" {ratios[2]:>6}  {r['load_average'][0]:.1f}/{r['load_average'][1]:.1f}"
        )


def goals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's goals, each as Squall's rate over the other's (None if not measured)."""
    rate = {r["engine"]: r["events_per_s"] for r in rows if r["correct"]}
    peers = [rate[p] for p in ("bytewax", "faust", "quixstreams") if p in rate]
    out: dict[str, Any] = {}
    for squall, loop in (("squall", "kafka-python-loop"), ("squall-confluent", "confluent-loop")):
        if squall not in rate:
            continue
        mine = rate[squall]
        out[f"{squall} / best peer (goal >= 2)"] = mine / max(peers) if peers else None
        out[f"{squall} / {loop} (goal >= {GOALS[loop]})"] = (
            mine / rate[loop] if loop in rate else None
        )
    for k, v in out.items():
        print(f"   {k}: {'not measured' if v is None else f'{v:.2f}x'}")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench peers", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--run-engine", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_engine:
        child(args.run_engine, args.bootstrap, args.topic, args.records, args.result)
        return
    print(f"== peers: the log-metrics job on {args.bootstrap}, {args.events:,} events")
    print(f"   machine: {machine()}")
    events = make_events(args.events)
    truth = ground_truth(events)
    topic = f"bench.peers.raw.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    rows = []
    skipped: dict[str, str] = {}
    try:
        records = fill(args.bootstrap, topic, events)
        del events
        print(f"   {records:,} records on {PARTITIONS} partitions of {topic} ({len(truth):,} keys)")
        for name in args.engines.split(","):
            reason = missing_reason(name)
            if reason:
                print(f"   skipped: {reason}")
                skipped[name] = reason
                continue
            load_before = os.getloadavg()[0]
            print(f"   running {name} (load average {load_before:.2f}) ...", flush=True)
            try:
                result = measure(name, args.bootstrap, topic, records)
            except (Exception, subprocess.SubprocessError) as exc:
                print(f"   {name} failed: {exc!r}")
                rows.append({"engine": name, "correct": False, "problems": [f"failed: {exc!r}"]})
                continue
            rows.append(summarise(name, result, check(result["answer"], truth)))
            rows[-1]["load_average"] = [load_before, os.getloadavg()[0]]
    finally:
        admin.delete_topics([topic])
    print_table(rows)
    report = {
        "machine": machine(),
        "versions": versions(),
        "events": args.events,
        "records": records,
        "keys": len(truth),
        "results": rows,
        "skipped": skipped,
        "goals": goals(rows),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"   written to {args.out}")


if __name__ == "__main__":
    main()
