"""The broker role: durable, partitioned, offset-addressed topics between the stages.

Two implementations sit behind the small contract in ``squall.broker.base``
(``open_broker`` in ``squall.broker.open`` picks one from a URL): the
embedded local log (``local://PATH``, SQLite in WAL mode) and Apache Kafka
(``kafka://HOST:PORT``). The rest of Squall only sees the contract.
"""

from squall.broker.base import Broker, Consumer, Producer, Record, TopicPartition
from squall.broker.exceptions import BrokerError, BrokerUnavailable, TransactionAborted
from squall.broker.open import open_broker
from squall.broker.topics import ensure_topics

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerUnavailable",
    "Consumer",
    "Producer",
    "Record",
    "TopicPartition",
    "TransactionAborted",
    "ensure_topics",
    "open_broker",
]
