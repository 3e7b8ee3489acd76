"""Apache Kafka (``kafka://HOST:PORT[,HOST:PORT]``): the broker role on a real cluster,
through kafka-python.

KafkaBroker      the Broker facade: topics, offsets, producer and consumer factory (broker)
KafkaProducer    idempotent, batched, compressed; transactional with a transactional_id
KafkaMember      consumer-group member, read_committed, manual commits (consumer)
KafkaOptions     client tunables: timeouts, batching, compression (options)

``compat`` patches a socket leak of kafka-python 3.0.12 when this package loads.
"""

from squall.broker.kafka import compat  # noqa: F401  (installs the workarounds)
from squall.broker.kafka.broker import KafkaBroker
from squall.broker.kafka.consumer import KafkaMember
from squall.broker.kafka.options import KafkaOptions
from squall.broker.kafka.producer import KafkaProducer

__all__ = ["KafkaBroker", "KafkaMember", "KafkaOptions", "KafkaProducer"]
