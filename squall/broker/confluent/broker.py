"""``ConfluentBroker``: Kafka with confluent-kafka producers and consumers
(``kafka://HOST:PORT?client=confluent``). Topic and offset look-ups are
``KafkaBroker``'s (kafka-python's admin client): they are rare, and one code path for
them keeps both clients' answers the same."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import confluent_kafka as ck

from squall.broker.base import RebalanceCallback
from squall.broker.confluent.consumer import ConfluentMember
from squall.broker.confluent.producer import ConfluentProducer
from squall.broker.exceptions import IllegalState
from squall.broker.kafka import KafkaBroker
from squall.broker.kafka.member import joined_metadata

__all__ = ["ConfluentBroker"]


class ConfluentBroker(KafkaBroker):
    """A connection to the Kafka cluster at ``bootstrap`` whose producers and consumers
    are librdkafka clients. Options as ``KafkaBroker``'s (``KafkaOptions``)."""

    def __init__(self, bootstrap: str, **options: Any):
        super().__init__(bootstrap, **options)
        self.url = f"kafka://{self.bootstrap}?client=confluent"
        self._unjoined: dict[str, Any] = {}  # group -> metadata without a generation

    def producer(self, transactional_id: str | None = None) -> ConfluentProducer:  # type: ignore[override]
        if self._closed:
            raise IllegalState(f"the broker {self.url} is closed; open it again")
        return ConfluentProducer(self, transactional_id)

    def consumer(  # type: ignore[override]
        self,
        group: str,
        topics: Iterable[str],
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ) -> ConfluentMember:
        if self._closed:
            raise IllegalState(f"the broker {self.url} is closed; open it again")
        return ConfluentMember(self, group, topics, on_assign, on_revoke)

    def group_metadata(self, group: str) -> Any:
        """What ``send_offsets_to_transaction`` passes for ``group``: the generation of
        this process's one joined member of it (so the broker fences a member that was
        rebalanced away, KIP-447), else the group alone (no fencing), as librdkafka
        wants it: from a consumer of that group that never joins."""
        joined = joined_metadata(self.bootstrap, group)
        if joined is not None:
            return joined
        metadata = self._unjoined.get(group)
        if metadata is None:
            idle = ck.Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
            metadata = self._unjoined[group] = idle.consumer_group_metadata()
            idle.close()
        return metadata
