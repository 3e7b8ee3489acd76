"""Kafka-only behaviour of squall.broker.kafka and squall.broker.confluent (the two
clients), on the real broker (and on no broker).

The shared contract lives in ../test_contract.py; here: errors translated at the edge,
what the Kafka clients would do differently from the contract (commits for foreign
partitions, exceptions in rebalance callbacks), KIP-447 identities, and the URLs.
"""

from __future__ import annotations

import socket
import time
import warnings
from collections.abc import Callable, Iterator

import pytest

from squall.broker import BrokerUnavailable, TopicPartition, open_broker
from squall.broker.confluent import ConfluentBroker
from squall.broker.exceptions import CommitFailed, IllegalState, UnknownPartition, UnknownTopic
from squall.broker.kafka import KafkaBroker
from squall.exceptions import ConfigError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.structs import ConsumerGroupMetadata

pytestmark = pytest.mark.kafka

CLIENTS = {"kafka-python": KafkaBroker, "confluent": ConfluentBroker}


@pytest.fixture(params=sorted(CLIENTS))
def kafka(request: pytest.FixtureRequest, kafka_bootstrap: str) -> Iterator[KafkaBroker]:
    broker = CLIENTS[request.param](kafka_bootstrap)
    try:
        yield broker
    finally:
        broker.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nobody listens once this socket closes


def test_url_opens_the_kafka_backend(kafka_bootstrap: str) -> None:
    with open_broker(f"kafka://{kafka_bootstrap}") as broker:
        assert type(broker) is KafkaBroker
        assert broker.url == f"kafka://{kafka_bootstrap}"
    with open_broker(f"kafka://{kafka_bootstrap}?client=kafka-python") as broker:
        assert type(broker) is KafkaBroker
    with open_broker(f"kafka://{kafka_bootstrap}?client=confluent") as broker:
        assert type(broker) is ConfluentBroker
        assert broker.url == f"kafka://{kafka_bootstrap}?client=confluent"  # reopens alike
    for wrong in ("client=java", "clients=confluent", "client"):
        with pytest.raises(ConfigError, match="client=confluent"):
            open_broker(f"kafka://{kafka_bootstrap}?{wrong}")


def test_no_broker_is_broker_unavailable_quickly() -> None:
    where = f"127.0.0.1:{_closed_port()}"
    broker = KafkaBroker(where, bootstrap_timeout_ms=500)  # opening does not connect
    began = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="squall stack up kafka"):
        broker.partitions("logs.raw")
    with pytest.raises(BrokerUnavailable):
        broker.producer()
    with pytest.raises(BrokerUnavailable):
        broker.consumer("g", ["logs.raw"])
    assert time.monotonic() - began < 20
    broker.close()
    with pytest.raises(IllegalState):
        broker.producer()


def test_sending_to_a_missing_topic_or_partition(
    kafka: KafkaBroker, unique: Callable[[str], str]
) -> None:
    producer = kafka.producer()
    with pytest.raises(UnknownTopic):
        producer.send(unique("missing"), b"v")
    topic = unique("t")
    kafka.create_topic(topic, 2)
    with pytest.raises(UnknownPartition):
        producer.send(topic, b"v", partition=2)
    with pytest.raises(UnknownPartition):
        kafka.end_offsets([TopicPartition(topic, 5)])
    with pytest.raises(TypeError):
        producer.send(topic, "text")  # type: ignore[arg-type]
    producer.close()
    with pytest.raises(IllegalState):
        producer.send(topic, b"v")


def test_transactional_producer_refuses_sends_outside_a_transaction(
    kafka: KafkaBroker, unique: Callable[[str], str]
) -> None:
    topic = unique("t")
    kafka.create_topic(topic, 1)
    producer = kafka.producer(transactional_id=unique("tx"))
    with pytest.raises(IllegalState, match="begin_transaction"):
        producer.send(topic, b"v")
    with pytest.raises(IllegalState):
        producer.commit_transaction()
    producer.abort_transaction()  # nothing open: a no-op
    producer.close()
    plain = kafka.producer()
    with pytest.raises(IllegalState, match="transactional_id"):
        plain.begin_transaction()
    plain.close()


def test_commit_for_a_partition_this_member_does_not_own_fails(
    kafka: KafkaBroker, unique: Callable[[str], str], poll: Callable[..., None]
) -> None:
    mine, other = unique("t"), unique("t")
    kafka.create_topic(mine, 1)
    kafka.create_topic(other, 1)
    member = kafka.consumer(unique("g"), [mine])
    poll([member], lambda: bool(member.assignment()))
    with pytest.raises(CommitFailed, match=other):
        member.commit({TopicPartition(other, 0): 1})
    member.commit({TopicPartition(mine, 0): 0})
    assert member.committed(TopicPartition(mine, 0)) == 0
    member.close()


def test_an_exception_in_on_assign_surfaces_from_poll_after_the_rebalance(
    kafka: KafkaBroker, unique: Callable[[str], str]
) -> None:
    topic = unique("t")
    kafka.create_topic(topic, 2)

    def explode(tps: set[TopicPartition]) -> None:
        if tps:  # the very first assignment may be empty while metadata catches up
            raise RuntimeError(f"assigned {len(tps)}")

    member = kafka.consumer(unique("g"), [topic], on_assign=explode)
    deadline = time.monotonic() + 30
    with pytest.raises(RuntimeError, match="assigned 2"):
        while time.monotonic() < deadline:
            member.poll(timeout=0.2)
    # the rebalance itself completed: the member owns its partitions and reads on
    assert member.assignment() == {TopicPartition(topic, 0), TopicPartition(topic, 1)}
    member.close()
    with pytest.raises(IllegalState):
        member.poll()


def _commit_in_a_transaction(
    kafka: KafkaBroker, txn_id: str, out: str, group: str, tp: TopicPartition, offset: int
) -> None:
    """One record to ``out`` and ``group``'s ``offset`` for ``tp`` in one transaction;
    returns once the offset is visible (the commit markers follow commit_transaction)."""
    producer = kafka.producer(transactional_id=txn_id)
    producer.begin_transaction()
    producer.send(out, b"row")
    producer.send_offsets_to_transaction({tp: offset}, group)
    producer.commit_transaction()
    deadline = time.monotonic() + 10
    while kafka.committed(group, tp) != offset:
        assert time.monotonic() < deadline, "the transaction's offsets never became visible"
        time.sleep(0.05)  # polling interval of the check
    producer.close()


def test_offsets_in_a_transaction_carry_the_joined_members_generation(
    kafka: KafkaBroker, unique: Callable[[str], str], poll: Callable[..., None]
) -> None:
    source, out, group = unique("t"), unique("t"), unique("g")
    kafka.create_topic(source, 1)
    kafka.create_topic(out, 1)
    member = kafka.consumer(group, [source])
    poll([member], lambda: bool(member.assignment()))
    other_cluster = type(kafka)(f"127.0.0.1:{_closed_port()}")
    nobody = other_cluster.group_metadata(group)  # members are per cluster: none there
    other_cluster.close()
    metadata = kafka.group_metadata(group)
    assert metadata != nobody  # the joined member's KIP-447 identity
    if isinstance(metadata, ConsumerGroupMetadata):  # kafka-python's is readable
        assert metadata.generation_id >= 0
    _commit_in_a_transaction(kafka, unique("tx"), out, group, TopicPartition(source, 0), 5)
    member.close()
    assert kafka.group_metadata(group) == nobody  # a closed member gives no identity


def test_a_member_that_lost_its_partitions_and_closed_does_not_refuse_its_successor(
    kafka: KafkaBroker, unique: Callable[[str], str], poll: Callable[..., None]
) -> None:
    """A worker restarted in the same process after a Kafka outage: its predecessor's
    member lost its session, then closed; the new member's transactions must commit."""
    source, out, group = unique("t"), unique("t"), unique("g")
    kafka.create_topic(source, 1)
    kafka.create_topic(out, 1)
    old = kafka.consumer(group, [source])
    poll([old], lambda: bool(old.assignment()))
    old._lost_tps(old.assignment())  # as the client reports an expired session
    with pytest.raises(CommitFailed, match="lost its partitions"):
        kafka.group_metadata(group)  # while it is open, it may not commit
    old.close()
    new = kafka.consumer(group, [source])
    poll([new], lambda: bool(new.assignment()))
    _commit_in_a_transaction(kafka, unique("tx"), out, group, TopicPartition(source, 0), 3)
    new.close()
