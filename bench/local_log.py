"""Embedded local log (SQLite WAL) throughput: produce, transactional produce, consume,
and a producer and a consumer in two processes at once.

    python -m bench local_log                 1,000,000 records of ~300 bytes
    python -m bench local_log --records 200000

Records are real Apache log lines in a Flume-like JSON event (what the collector puts
on ``logs.raw``), keyed by one of 4 services, on a 4-partition topic. Every flush and
commit is fsynced (synchronous=FULL). Figures only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import flume_events, machine, rss_mib
from squall.broker import TopicPartition
from squall.broker.local import LocalBroker

SERVICES = [b"web", b"api", b"auth", b"shop"]
PARTITIONS = 4


def _produce(path: Path, topic: str, events: list[bytes], batch: int) -> float:
    broker = LocalBroker(path)
    producer = broker.producer()
    start = time.perf_counter()
    for i, value in enumerate(events, 1):
        producer.send(topic, value, key=SERVICES[i & 3])
        if i % batch == 0:
            producer.flush()
    producer.flush()
    elapsed = time.perf_counter() - start
    producer.close()
    broker.close()
    return elapsed


def _produce_transactions(path: Path, topic: str, events: list[bytes], batch: int) -> float:
    broker = LocalBroker(path)
    broker.create_topic("bench.source", 1)
    producer = broker.producer(transactional_id="bench")
    start = time.perf_counter()
    for first in range(0, len(events), batch):
        producer.begin_transaction()
        for i, value in enumerate(events[first : first + batch], first):
            producer.send(topic, value, key=SERVICES[i & 3])
        producer.send_offsets_to_transaction(
            {TopicPartition("bench.source", 0): first + batch}, "bench"
        )
        producer.commit_transaction()
    elapsed = time.perf_counter() - start
    producer.close()
    broker.close()
    return elapsed


def _consume(path: Path, topic: str, total: int, max_records: int) -> tuple[float, float]:
    """Seconds to read ``total`` records (timed from the first record), and RSS."""
    broker = LocalBroker(path)
    consumer = broker.consumer(f"bench-{max_records}-{time.monotonic_ns()}", [topic])
    got = 0
    start = 0.0
    while got < total:
        records = consumer.poll(max_records=max_records, timeout=1.0)
        if records and not start:
            start = time.perf_counter()
        got += len(records)
    elapsed = time.perf_counter() - start
    rss = rss_mib()
    consumer.close()
    broker.close()
    return elapsed, rss


def _commit_latency(path: Path, topic: str, n: int = 300) -> list[float]:
    broker = LocalBroker(path)
    producer = broker.producer()
    latencies = []
    for i in range(n):
        producer.send(topic, b"x" * 300, key=SERVICES[i & 3])
        start = time.perf_counter()
        producer.flush()
        latencies.append(time.perf_counter() - start)
    producer.close()
    broker.close()
    return latencies


def _consume_in_child(path: str, topic: str, total: int, result: mp.Queue) -> None:
    elapsed, rss = _consume(Path(path), topic, total, 5000)
    result.put((elapsed, rss))


def _row(label: str, n: int, seconds: float, value_bytes: int) -> None:
    print(
        f"  {label:<46} {n / seconds:>10,.0f} records/s  "
        f"{n * value_bytes / seconds / 2**20:>6.1f} MiB/s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench local_log")
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    n = args.records
    events = flume_events(n)
    size = sum(map(len, events)) // n
    print(f"== local log (SQLite WAL, synchronous=FULL): {n:,} records of ~{size} bytes")
    print(f"  machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="squall-bench-") as tmp:
        path = Path(tmp)
        broker = LocalBroker(path)
        for batch in (1_000, 10_000):
            broker.create_topic(f"plain.{batch}", PARTITIONS)
        broker.create_topic("tx", PARTITIONS)
        broker.create_topic("live", PARTITIONS)
        broker.create_topic("latency", PARTITIONS)

        print("produce (one process, key -> murmur2 partition)")
        for batch in (1_000, 10_000):
            seconds = _produce(path, f"plain.{batch}", events, batch)
            _row(f"send + flush every {batch:,}", n, seconds, size)
        seconds = _produce_transactions(path, "tx", events, 5_000)
        _row("transactions of 5,000 records + offsets", n, seconds, size)
        print(f"  producer RSS {rss_mib():.0f} MiB (includes the {n:,} test events)")

        lat = sorted(_commit_latency(path, "latency"))
        print(
            f"  flush of 1 record (commit + fsync): p50 {statistics.median(lat) * 1e3:.2f} ms, "
            f"p99 {lat[int(len(lat) * 0.99)] * 1e3:.2f} ms"
        )

        print("consume (one process, one group member owning all 4 partitions)")
        for max_records in (500, 5_000):
            seconds, rss = _consume(path, "plain.10000", n, max_records)
            _row(f"poll(max_records={max_records:,})", n, seconds, size)
        print(f"  consumer RSS {rss:.0f} MiB")

        print("producer and consumer in two processes at once")
        ctx = mp.get_context("spawn")
        result: mp.Queue = ctx.Queue()
        child = ctx.Process(target=_consume_in_child, args=(tmp, "live", n, result))
        child.start()
        seconds = _produce(path, "live", events, 10_000)
        consumed, child_rss = result.get(timeout=600)
        child.join()
        _row("produce, flush every 10,000", n, seconds, size)
        _row("consume, poll(max_records=5,000)", n, consumed, size)
        print(f"  consumer process RSS {child_rss:.0f} MiB")
        db = path / "log.sqlite3"
        print(f"  log file {db.stat().st_size / 2**20:.0f} MiB for {4 * n:,} records")
        broker.close()


if __name__ == "__main__":
    main()
