"""Scale-out: the log-metrics topology with 1 and 2 worker processes on one broker.

A fresh 6-partition raw topic is filled with ``--events`` JSON log events keyed by
service. The 12 service names are chosen (``svc-<n>``, searched in order) so that
Kafka's default partitioner (murmur2 of the key) puts exactly 2 of them on each
partition: with arbitrary names the partitions got 25k/100k/25k/50k/25k/75k of 300k
events, so one worker of two could get twice the work of the other and "2 workers"
measured the skew, not the scale-out. The fill is checked against the end offsets.

For each worker count, ``squall topology run log-metrics --workers N`` runs with its
own consumer group. Only the steady state counts: on Kafka the start mark is the
first checkpoint commit after the group (``KafkaAdminClient.describe_groups``) is
Stable with exactly N members that each own partitions; the workers join at different
times and a join is a rebalance, so measuring from the start would credit N workers
with one worker's window. The end mark is the first commit that completes a partition:
the worker that joined first has read ahead on some partitions, so towards the end
one worker runs dry while the other still works. Committed offsets move at checkpoints
(1 s) only, hence marks at commits and enough events for a window of several seconds.
On a local:// broker (no group description) the window starts at the first commit past
10% progress.
CPU time of the workers, of the Kafka JVM and of the whole machine over the window shows
whether the 2 cores are the limit.

Two ceilings on the same topic, in this process: kafka-python's own KafkaConsumer
(defaults, read_committed, as the workers read) and a consumer through Squall's broker
contract; neither does any processing. Workers collect garbage rarely
(``squall.gc_tuning``), which speeds up a plain consumer too, so kafka-python is
measured both ways, and with the spout's 2,000 records a poll; the ratios use the
fastest rate. confluent-kafka's raw rate is printed too: with
``--broker 'kafka://HOST:PORT?client=confluent'`` the workers read and write through it.

    python -m bench scaleout [--broker kafka://127.0.0.1:9092[?client=confluent]] [--events N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import confluent_kafka
import orjson

from bench.common import machine
from squall.broker import Broker, TopicPartition, open_broker
from squall.gc_tuning import WORKER_THRESHOLDS, frozen_gc
from squall.processes import ProcessGroup, child_env
from squall.traffic import generate_events

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka
    from kafka.errors import KafkaError
    from kafka.partitioner.default import murmur2

PARTITIONS = 6
SERVICES_PER_PARTITION = 2
TARGET_OF_CEILING = 0.5  # one worker vs kafka-python's raw consume rate
TARGET_SCALE = 1.7  # two workers vs one
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def partition_of(key: str) -> int:
    """Kafka's default partitioner (as kafka-python and the local broker apply it)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def balanced_services() -> list[str]:
    """``svc-<n>`` names, SERVICES_PER_PARTITION on each partition, ordered so that
    cycling over them visits the partitions in turn."""
    found: list[list[str]] = [[] for _ in range(PARTITIONS)]
    n = 0
    while any(len(names) < SERVICES_PER_PARTITION for names in found):
        name = f"svc-{n}"
        n += 1
        if len(found[partition_of(name)]) < SERVICES_PER_PARTITION:
            found[partition_of(name)].append(name)
    return [names[i] for i in range(SERVICES_PER_PARTITION) for names in found]


def fill(broker: Broker, topic: str, n: int) -> None:
    """``n`` events on a new topic, service ``services[i % 12]`` for event i; raises
    if a partition did not get exactly the events its services were sent."""
    services = balanced_services()
    began = time.perf_counter()
    broker.create_topic(topic, PARTITIONS)
    producer = broker.producer()
    for i, e in enumerate(generate_events(count=n, seed=5)):
        e["service"] = service = services[i % len(services)]
        event = {"headers": {"id": f"e{i}"}, "body": orjson.dumps(e).decode()}
        producer.send(topic, orjson.dumps(event), key=service.encode())
    producer.flush()
    producer.close()
    want = [0] * PARTITIONS
    for i in range(n):
        want[partition_of(services[i % len(services)])] += 1
    end = broker.end_offsets(TopicPartition(topic, p) for p in range(PARTITIONS))
    got = [end[TopicPartition(topic, p)] for p in range(PARTITIONS)]
    if got != want or max(got) - min(got) > SERVICES_PER_PARTITION:
        raise RuntimeError(f"partitions unbalanced: end offsets {got}, expected {want}")
    print(
        f"   filled in {time.perf_counter() - began:.1f} s: {got[0]:,} events on each of"
        f" {PARTITIONS} partitions (services {', '.join(services)})"
    )


def kafka_python_consume(bootstrap: list[str], topic: str, n: int, batch: int = 500) -> float:
    """kafka-python's raw consume rate: its defaults (500 records a poll unless told),
    read_committed as the workers."""
    consumer = kafka.KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-kp-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    got = 0
    start = 0.0
    while got < n:
        batches = consumer.poll(timeout_ms=1000, max_records=batch)
        if batches and not start:
            start = time.perf_counter()  # from the first records, not the group join
        got += sum(len(records) for records in batches.values())
    rate = n / (time.perf_counter() - start)
    consumer.close(autocommit=False)
    return rate


def confluent_consume(bootstrap: list[str], topic: str, n: int) -> float:
    """confluent-kafka's raw consume rate: consume() of 2,000, reading each value."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": ",".join(bootstrap),
            "group.id": f"bench-ck-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    got = 0
    start = 0.0
    while got < n:
        messages = consumer.consume(2000, 1.0)
        if messages and not start:
            start = time.perf_counter()
        for m in messages:
            if m.error() is None and m.value() is not None:
                got += 1
    rate = n / (time.perf_counter() - start)
    consumer.close()
    return rate


def contract_consume(broker: Broker, topic: str, n: int) -> float:
    """A plain consumer through Squall's broker contract, no processing."""
    consumer = broker.consumer(f"bench-raw-{uuid.uuid4().hex[:8]}", [topic])
    got = 0
    start = 0.0
    while got < n:
        records = consumer.poll(max_records=2000, timeout=1.0)
        if records and not start:
            start = time.perf_counter()
        got += len(records)
    rate = n / (time.perf_counter() - start)
    consumer.close()
    return rate


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat fields after the command name (index 1 = ppid, 11/12 = u/stime)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def machine_busy() -> float:
    """CPU seconds all cores spent not idle (/proc/stat): includes other people's work."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLOCK_TICK


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(int(entry))[1]) == pid:
                    found.append(int(entry))
            except OSError:
                pass  # exited meanwhile
    return sorted(found)


def kafka_jvm() -> int | None:
    """The Kafka broker started by ``squall stack up kafka`` (its JVM has the argument
    ``-Dsquall.service=kafka@RUN_DIR``), if it runs here."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
                if any(a.partition(b"@")[0] == b"-Dsquall.service=kafka" for a in args):
                    return int(entry)
            except OSError:
                pass
    return None


def group_steady(admin: Any, group: str, members: int) -> bool:
    """The group is Stable with exactly ``members`` members, each owning partitions."""
    try:
        desc = admin.describe_groups([group])[group]
    except KafkaError:
        return False

    def owned(member: dict[str, Any]) -> int:
        a = member.get("member_assignment")
        return sum(len(t["partitions"]) for t in a["assigned_partitions"]) if a else 0

    return (
        desc["group_state"] == "Stable"
        and len(desc["members"]) == members
        and all(owned(m) > 0 for m in desc["members"])
    )


@dataclass
class Mark:
    t: float
    done: int
    cpu: dict[str, float]
    busy: float


@dataclass
class Run:
    workers: int
    start: Mark
    end: Mark

    @property
    def events(self) -> int:
        return self.end.done - self.start.done

    @property
    def seconds(self) -> float:
        return self.end.t - self.start.t

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def topology_run(
    url: str, broker: Broker, admin: Any, topic: str, workers: int, topics: list[str]
) -> Run:
    """Run the topology on ``topic``; the marks of the steady window: from the first
    commit after the group is stable to the first commit that finishes a partition
    (until then every worker has a backlog on each of its partitions). The output
    topics are added to ``topics``."""
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-{run}"
    topics += [f"bench.metrics.{run}", f"bench.deadletter.{run}"]
    group = f"{prefix}-log-metrics"
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    ends = broker.end_offsets(tps)
    total = sum(ends.values())
    jvm = kafka_jvm() if admin else None
    with tempfile.TemporaryDirectory() as tmp:
        env = child_env(
            data_dir=tmp,
            broker=url,
            topic_raw=topic,
            topic_metrics=topics[-2],
            topic_deadletter=topics[-1],
            group_prefix=prefix,
        )
        parts = ProcessGroup(env, Path(tmp) / "logs")
        parts.start("topology", "topology", "run", "log-metrics", "--workers", str(workers))
        top = parts.pid("topology")
        pids: dict[str, int] = {"bench (this process)": os.getpid()}
        if jvm:
            pids["kafka JVM"] = jvm

        def mark(done: int) -> Mark:
            cpu = {k: cpu_seconds(p) for k, p in pids.items()}
            return Mark(time.perf_counter(), done, cpu, machine_busy())

        start: Mark | None = None
        steady_at: int | None = None  # committed sum when the group was first seen steady
        try:
            while True:
                parts.check()
                per_partition = {tp: broker.committed(group, tp) or 0 for tp in tps}
                done = sum(per_partition.values())
                drained = any(per_partition[tp] >= ends[tp] for tp in tps)
                if start is None:
                    if not admin:
                        steady_at = total // 10
                    elif steady_at is None and group_steady(admin, group, workers):
                        steady_at = done
                    if steady_at is not None and done > steady_at and done < total:
                        procs = children(top) if workers > 1 else [top]
                        if len(procs) != workers:
                            raise RuntimeError(f"{len(procs)} worker processes, not {workers}")
                        if workers > 1:
                            pids["supervisor"] = top
                        pids.update({f"worker {i}": p for i, p in enumerate(procs)})
                        start = mark(done)
                elif admin and not group_steady(admin, group, workers):
                    raise RuntimeError(f"{group} rebalanced inside the measured window")
                if drained:  # from here on a worker may run out of work: the window ends
                    if start is None:
                        raise RuntimeError("no steady window: a partition was read before it")
                    end = mark(done)
                    break
                time.sleep(0.1)
        finally:
            parts.stop()
    return Run(workers, start, end)


def report(r: Run, kp: float | None, ck: float | None, contract: float, one: Run | None) -> None:
    name = "worker" if r.workers == 1 else "workers"
    print(
        f"   {r.workers} {name}: {r.rate:,.0f} events/s"
        f" (steady window {r.seconds:.1f} s, {r.events:,} events,"
        f" from {r.start.done / r.end.done:.0%} done)"
    )
    ratios = []
    if kp:
        target = f" (target >= {TARGET_OF_CEILING:.2f}x)" if r.workers == 1 else ""
        ratios.append(f"{r.rate / kp:.2f}x kafka-python{target}")
    if ck:
        ratios.append(f"{r.rate / ck:.2f}x confluent-kafka")
    ratios.append(f"{r.rate / contract:.2f}x broker contract")
    if one and r.workers != 1:
        ratios.append(f"{r.rate / one.rate:.2f}x one worker (target >= {TARGET_SCALE:.2f}x)")
    print("      " + ", ".join(ratios))
    total = 0.0
    for k in r.start.cpu:
        cpu = r.end.cpu[k] - r.start.cpu[k]
        total += cpu
        us = cpu * 1e6 / r.events
        print(f"      CPU {k:<22} {cpu / r.seconds:5.2f} cores {us:6.1f} us/event of the window")
    busy = r.end.busy - r.start.busy
    cores = os.cpu_count()
    print(f"      CPU {'all of the above':<22} {total / r.seconds:5.2f} of {cores} cores")
    print(f"      CPU {'machine, all processes':<22} {busy / r.seconds:5.2f} of {cores} cores busy")


def _tuned_ceilings(
    kp: float, bootstrap: list[str], topic: str, events: int
) -> tuple[float, float]:
    """The kafka-python ceiling (the fastest of plain, workers' GC, big polls) and
    confluent-kafka's, with the workers' GC settings in force."""
    tuned = kafka_python_consume(bootstrap, topic, events)
    print(f"       the same with the workers' GC settings: {tuned:,.0f} records/s")
    bigger = kafka_python_consume(bootstrap, topic, events, batch=2000)
    print(f"       and 2,000 records a poll, as the spout: {bigger:,.0f} records/s")
    ck = confluent_consume(bootstrap, topic, events)
    print(f"   (c) confluent-kafka Consumer, no processing: {ck:,.0f} records/s")
    return max(kp, tuned, bigger), ck


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default="kafka://127.0.0.1:9092")
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--workers", default="1,2", help="worker counts to run (1,2)")
    args = parser.parse_args(argv)
    print(f"== scale-out: log-metrics on {args.broker}, {args.events:,} events")
    print(f"   machine: {machine()}")
    on_kafka = args.broker.startswith("kafka://")
    bootstrap = args.broker.removeprefix("kafka://").partition("?")[0].split(",")
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap) if on_kafka else None
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    topics = [topic]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.broker if on_kafka else f"local://{tmp}/log"
            with open_broker(url) as broker:
                fill(broker, topic, args.events)
                kp = kafka_python_consume(bootstrap, topic, args.events) if on_kafka else None
                ck = None
                if kp:
                    print(f"   (a) kafka-python KafkaConsumer, no processing: {kp:,.0f} records/s")
                # the workers run with fewer garbage collections (squall.gc_tuning),
                # which speeds up a plain consumer too: the ceiling is the faster rate
                with frozen_gc(WORKER_THRESHOLDS):
                    if kp:
                        kp, ck = _tuned_ceilings(kp, bootstrap, topic, args.events)
                    contract = contract_consume(broker, topic, args.events)
                    print(
                        f"   (b) broker contract consumer, no processing, workers' GC settings:"
                        f" {contract:,.0f} records/s"
                    )
                    runs: dict[int, Run] = {}
                    for w in (int(x) for x in args.workers.split(",")):
                        runs[w] = topology_run(url, broker, admin, topic, w, topics)
                        report(runs[w], kp, ck, contract, runs.get(1))
    finally:
        if admin:
            with contextlib.suppress(KafkaError):  # a topic the topology never created
                admin.delete_topics(topics)
            admin.close()


if __name__ == "__main__":
    main()
