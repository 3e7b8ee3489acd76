"""The broker role on Apache Kafka through confluent-kafka (librdkafka), selected with
``kafka://HOST:PORT?client=confluent``.

Same contract and same cluster as ``squall.broker.kafka`` (kafka-python), whose admin
look-ups it reuses; producers and consumers are librdkafka clients, which decode and
encode records in C on their own threads: several times less CPU per record than
kafka-python's Python decoding (bench/kafka_raw.py, bench/scaleout.py).
"""

from squall.broker.confluent.broker import ConfluentBroker

__all__ = ["ConfluentBroker"]
