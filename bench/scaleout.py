"""Scale-out: the log-metrics topology with 1 and 2 worker processes on one broker.

A fresh 6-partition raw topic is filled with ``--events`` JSON log events from 12
services (so that keys spread over the partitions); then, for each worker count,
``squall topology run log-metrics --workers N`` runs with its own consumer group and
output topics until the group's committed offsets reach the end of the topic. The
rate is taken from 10% to 100% of progress (start-up and group joins left out).
The ceiling printed first is a plain consumer reading the same topic through the
broker contract in this process, with no parsing at all.

    python -m bench scaleout [--broker kafka://127.0.0.1:9092] [--events 300000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from bench.common import machine
from squall.broker import Broker, TopicPartition, open_broker
from squall.processes import ProcessGroup, child_env
from squall.traffic import generate_events

PARTITIONS = 6


def fill(broker: Broker, topic: str, n: int) -> None:
    broker.create_topic(topic, PARTITIONS)
    producer = broker.producer()
    for i, e in enumerate(generate_events(count=n, seed=5)):
        e["service"] = f"svc-{i % 12}"
        event = {"headers": {"id": f"e{i}"}, "body": orjson.dumps(e).decode()}
        producer.send(topic, orjson.dumps(event), key=str(e["service"]).encode())
    producer.flush()
    producer.close()


def raw_consume(broker: Broker, topic: str, n: int) -> float:
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


def topology_rate(broker_url: str, broker: Broker, topic: str, n: int, workers: int) -> float:
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-{run}"
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    end = broker.end_offsets(tps)
    with tempfile.TemporaryDirectory() as tmp:
        env = child_env(
            data_dir=tmp,
            broker=broker_url,
            topic_raw=topic,
            topic_metrics=f"bench.metrics.{run}",
            topic_deadletter=f"bench.deadletter.{run}",
            group_prefix=prefix,
        )
        parts = ProcessGroup(env, Path(tmp) / "logs")
        parts.start("topology", "topology", "run", "log-metrics", "--workers", str(workers))
        marks: list[tuple[float, int]] = []
        try:
            while True:
                parts.check()
                done = sum(broker.committed(f"{prefix}-log-metrics", tp) or 0 for tp in tps)
                marks.append((time.perf_counter(), done))
                if done >= sum(end.values()):
                    break
                time.sleep(0.2)
        finally:
            parts.stop()
    t10 = next(t for t, d in marks if d >= n * 0.1)
    d10 = next(d for _t, d in marks if d >= n * 0.1)
    return (n - d10) / (marks[-1][0] - t10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default="kafka://127.0.0.1:9092")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--workers", default="1,2", help="worker counts to run (1,2)")
    args = parser.parse_args(argv)
    print(f"== scale-out: log-metrics on {args.broker}, {args.events:,} events")
    print(f"   machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.broker if not args.broker.startswith("local:") else f"local://{tmp}/log"
        with open_broker(url) as broker:
            topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
            fill(broker, topic, args.events)
            ceiling = raw_consume(broker, topic, args.events)
            print(f"   plain consumer, no processing: {ceiling:,.0f} records/s")
            rates: dict[int, float] = {}
            for w in (int(x) for x in args.workers.split(",")):
                rates[w] = topology_rate(url, broker, topic, args.events, w)
                line = (
                    f"   {w} worker(s): {rates[w]:,.0f} events/s ({rates[w] / ceiling:.2f}x plain"
                )
                if 1 in rates and w != 1:
                    line += f", {rates[w] / rates[1]:.2f}x one worker"
                print(line + ")")


if __name__ == "__main__":
    main()
