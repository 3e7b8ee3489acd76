"""Raw Kafka client rates on the local broker: the ceiling for anything built on them.

    python -m bench kafka_raw                       200,000 records of ~300 bytes
    python -m bench kafka_raw --records 500000 --bootstrap 127.0.0.1:9092

Needs a running Kafka (``squall stack up kafka``). Measures, one process each:

* kafka-python's KafkaProducer as Squall configures it (acks=all, idempotent,
  linger 5 ms, 256 KiB batches), per compression codec available here;
* kafka-python's KafkaConsumer (read_committed, no auto-commit) reading a topic
  end to end;
* the same through Squall's broker contract (``squall.broker.kafka``), to show what
  the wrapper costs;
* confluent-kafka (librdkafka) producer and consumer, when it is installed, as a
  comparison only.

Records are real Apache log lines in a Flume-like JSON event (what the collector puts
on ``logs.raw``), keyed by one of 4 services, on a 6-partition topic (as ``logs.raw``).
Topics are created per run and deleted afterwards. Figures only; nothing asserts.
"""

from __future__ import annotations

import argparse
import time
import uuid
import warnings
from collections.abc import Callable

from bench.common import flume_events, machine, rss_mib

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka
    import kafka.codec
    import kafka.record.util

SERVICES = [b"web", b"api", b"auth", b"shop"]
PARTITIONS = 6


def _row(label: str, n: int, seconds: float, size: int) -> None:
    rate = n / seconds
    print(f"  {label:<46} {rate:>10,.0f} rec/s  {rate * size / 2**20:>6.1f} MiB/s")


def _codecs() -> list[str | None]:
    available: list[str | None] = [None, "gzip"]
    if kafka.codec.has_lz4():
        available.append("lz4")
    if kafka.codec.has_snappy():
        available.append("snappy")
    if kafka.codec.has_zstd():
        available.append("zstd")
    return available


def _kp_produce(bootstrap: str, topic: str, events: list[bytes], codec: str | None) -> float:
    producer = kafka.KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,
        compression_type=codec,
    )
    send = producer.send
    start = time.perf_counter()
    for i, value in enumerate(events):
        send(topic, value, SERVICES[i & 3])
    producer.flush()
    elapsed = time.perf_counter() - start
    producer.close()
    return elapsed


def _kp_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = kafka.KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=5000,
    )
    got = 0
    start = 0.0
    deadline = time.monotonic() + 300
    while got < n and time.monotonic() < deadline:
        batches = consumer.poll(timeout_ms=500)
        if got == 0 and batches:
            start = time.perf_counter()  # from the first records, not the group join
        for records in batches.values():
            got += len(records)
    elapsed = time.perf_counter() - start
    consumer.close(autocommit=False)
    return elapsed if got >= n else float("inf")


def _squall_produce(bootstrap: str, topic: str, events: list[bytes], codec: str | None) -> float:
    from squall.broker.kafka import KafkaBroker

    with KafkaBroker(bootstrap, compression=codec) as broker:
        producer = broker.producer()
        send = producer.send
        start = time.perf_counter()
        for i, value in enumerate(events):
            send(topic, value, SERVICES[i & 3])
        producer.flush()
        elapsed = time.perf_counter() - start
        producer.close()
    return elapsed


def _squall_consume(bootstrap: str, topic: str, n: int) -> float:
    from squall.broker.kafka import KafkaBroker

    with KafkaBroker(bootstrap) as broker:
        consumer = broker.consumer(f"bench-{uuid.uuid4().hex[:8]}", [topic])
        got = 0
        start = 0.0
        deadline = time.monotonic() + 300
        while got < n and time.monotonic() < deadline:
            records = consumer.poll(max_records=5000, timeout=0.5)
            if got == 0 and records:
                start = time.perf_counter()
            got += len(records)
        elapsed = time.perf_counter() - start
        consumer.close()
    return elapsed if got >= n else float("inf")


def _ck_produce(bootstrap: str, topic: str, events: list[bytes], codec: str | None) -> float:
    import confluent_kafka

    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "batch.size": 256 * 1024,
            "compression.type": codec or "none",
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    produce, poll = producer.produce, producer.poll
    start = time.perf_counter()
    for i, value in enumerate(events):
        try:
            produce(topic, value, SERVICES[i & 3])
        except BufferError:
            poll(0.01)
            produce(topic, value, SERVICES[i & 3])
        if i & 1023 == 0:
            poll(0)
    producer.flush()
    return time.perf_counter() - start


def _ck_consume(bootstrap: str, topic: str, n: int) -> float:
    import confluent_kafka

    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    got = 0
    start = 0.0
    deadline = time.monotonic() + 300
    while got < n and time.monotonic() < deadline:
        messages = consumer.consume(num_messages=5000, timeout=0.5)
        if got == 0 and messages:
            start = time.perf_counter()
        got += sum(1 for m in messages if m.error() is None)
    elapsed = time.perf_counter() - start
    consumer.close()
    return elapsed if got >= n else float("inf")


def _has_confluent() -> bool:
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench kafka_raw")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = parser.parse_args(argv)
    n, bootstrap = args.records, args.bootstrap
    try:
        admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=5000)
    except kafka.errors.KafkaError as exc:
        print(f"== kafka_raw: no Kafka at {bootstrap} ({exc}); run `squall stack up kafka`")
        return
    events = flume_events(n)
    size = sum(map(len, events)) // n
    crc = "C (crc32c package)" if kafka.record.util.crc32c_c is not None else "pure Python"
    print(
        f"== raw Kafka clients on {bootstrap}: {n:,} records of ~{size} bytes, {PARTITIONS} "
        f"partitions, acks=all, idempotent"
    )
    print(f"  machine: {machine()}")
    print(f"  kafka-python {kafka.__version__}, crc32c: {crc}")
    run = uuid.uuid4().hex[:8]
    topics: list[str] = []

    def new_topic(label: str) -> str:
        name = f"bench.raw.{run}.{label}"
        admin.create_topics(
            {name: {"num_partitions": PARTITIONS, "replication_factor": 1}},
            wait_for_metadata=True,
        )
        topics.append(name)
        return name

    Produce = Callable[[str, str, list[bytes], str | None], float]
    clients: list[tuple[str, Produce, Callable[[str, str, int], float]]] = [
        ("kafka-python", _kp_produce, _kp_consume),
        ("squall.broker.kafka", _squall_produce, _squall_consume),
    ]
    if _has_confluent():
        import confluent_kafka

        librdkafka = confluent_kafka.libversion()[0]
        label = f"confluent-kafka {confluent_kafka.version()} (librdkafka {librdkafka})"
        clients.append((label, _ck_produce, _ck_consume))
    else:
        print("  confluent-kafka: not installed (pip install confluent-kafka to compare)")
    try:
        for name, produce, consume in clients:
            print(f"{name}")
            plain = ""
            for codec in _codecs():
                topic = new_topic(f"{name.split()[0]}.{codec or 'none'}")
                seconds = produce(bootstrap, topic, events, codec)
                _row(f"produce, compression {codec or 'none'}", n, seconds, size)
                if codec is None:
                    plain = topic
            for codec_topic in (plain, topics[-1]):
                seconds = consume(bootstrap, codec_topic, n)
                codec_name = codec_topic.rsplit(".", 1)[1]
                _row(f"consume ({codec_name} topic)", n, seconds, size)
        print(f"  bench process RSS {rss_mib():.0f} MiB (includes the {n:,} test events)")
    finally:
        admin.delete_topics(topics)
        admin.close()


if __name__ == "__main__":
    main()
