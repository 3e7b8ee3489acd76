"""``KafkaBroker``: the broker role on Apache Kafka (``kafka://HOST:PORT[,HOST:PORT]``).

Topic and offset look-ups go through one lazily opened admin client (so opening the
broker never blocks, and a pipeline stage can start while Kafka is still coming up);
producers and consumers are kafka-python clients of their own. Offsets are read with
read_committed, as every Squall reader reads.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from squall.broker.base import Broker, RebalanceCallback, TopicPartition
from squall.broker.exceptions import BrokerError, IllegalState, UnknownPartition, UnknownTopic
from squall.broker.kafka.consumer import KafkaMember
from squall.broker.kafka.errors import construct, convert, kerrors, translate
from squall.broker.kafka.member import joined_metadata
from squall.broker.kafka.options import KafkaOptions
from squall.broker.kafka.producer import KafkaProducer

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka
    from kafka import IsolationLevel, OffsetSpec
    from kafka.structs import ConsumerGroupMetadata

__all__ = ["KafkaBroker"]

_UNKNOWN_TOPIC = kerrors.UnknownTopicOrPartitionError.errno
_CONNECTION_ERRORS = (
    kerrors.KafkaConnectionError,
    kerrors.NodeNotReadyError,
    kerrors.KafkaTimeoutError,
    kerrors.RequestTimedOutError,
)


class KafkaBroker(Broker):
    """A connection to the Kafka cluster at ``bootstrap`` (``host:port[,host:port]``).

    Keyword options are those of ``KafkaOptions``. Thread-safe (the admin calls are
    serialized); its producers and consumers are not.
    """

    def __init__(self, bootstrap: str, **options: Any):
        servers = [s.strip() for s in bootstrap.split(",") if s.strip()]
        if not servers:
            raise ValueError(f"no Kafka bootstrap server in {bootstrap!r}; use HOST:PORT")
        self.servers = servers
        self.bootstrap = ",".join(servers)
        self.url = f"kafka://{self.bootstrap}"
        try:
            self.options = KafkaOptions(**options)
        except TypeError as exc:
            raise TypeError(f"KafkaBroker: {exc}; see squall.broker.kafka.KafkaOptions") from exc
        self._admin: Any = None
        self._lock = threading.Lock()
        self._closed = False

    def _admin_client(self) -> Any:
        """The admin client, connected at first use (call with the lock held)."""
        if self._closed:
            raise IllegalState(f"the broker {self.url} is closed; open it again")
        if self._admin is None:
            self._admin = construct(
                kafka.KafkaAdminClient,
                "connect to Kafka",
                self.bootstrap,
                bootstrap_servers=self.servers,
                client_id=f"{self.options.client_id}-admin",
                request_timeout_ms=self.options.request_timeout_ms,
                bootstrap_timeout_ms=self.options.bootstrap_timeout_ms,
                reconnect_backoff_max_ms=self.options.reconnect_backoff_max_ms,
            )
        return self._admin

    def _admin_call(self, action: str, call: Callable[[Any], Any]) -> Any:
        """Run ``call(admin)``; on a connection-level failure, once more on a fresh admin
        client (kafka-python's can stay stuck on a broker that restarted)."""
        with self._lock:
            for attempt in (1, 2):
                admin = self._admin_client()
                try:
                    return call(admin)
                except kerrors.KafkaError as exc:
                    stale = isinstance(exc, _CONNECTION_ERRORS)
                    if stale:
                        self._admin = None
                        with contextlib.suppress(Exception):
                            admin.close()
                    if attempt == 2 or not stale:
                        raise convert(exc, action, self.bootstrap) from exc
        raise AssertionError("unreachable")

    def create_topic(self, topic: str, partitions: int) -> None:
        """Create ``topic`` with ``partitions`` partitions and wait until every partition
        has a leader; a no-op if it exists (its partition count is kept)."""
        if not topic or not isinstance(topic, str):
            raise ValueError(f"a topic name must be a non-empty string, got {topic!r}")
        if partitions < 1:
            raise ValueError(f"topic {topic!r} needs at least 1 partition, got {partitions}")
        spec = {
            topic: {
                "num_partitions": partitions,
                "replication_factor": self.options.replication_factor,
            }
        }

        def create(admin: Any) -> None:
            try:
                admin.create_topics(spec, wait_for_metadata=True)
            except kerrors.TopicAlreadyExistsError:
                admin.wait_for_topics([topic])  # it may have been created just now

        self._admin_call(f"create topic {topic!r}", create)

    def _describe(self, topics: list[str]) -> dict[str, int]:
        """Partition counts of ``topics``; UnknownTopic for the first one missing."""
        described = self._admin_call("look up topics", lambda a: a.describe_topics(topics))
        counts = {}
        for t in described:
            if t["error_code"] == _UNKNOWN_TOPIC:
                raise UnknownTopic(
                    f"topic {t['name']!r} does not exist on {self.bootstrap}; create it with "
                    f"create_topic() first"
                )
            if t["error_code"]:
                error = kerrors.for_code(t["error_code"])
                raise BrokerError(f"cannot look up topic {t['name']!r}: {error.__name__}")
            counts[t["name"]] = len(t["partitions"])
        return counts

    def partitions(self, topic: str) -> int:
        return self._describe([topic])[topic]

    def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Per partition, the last stable offset: where the next committed record goes
        (with no transaction open, the high watermark)."""
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in tps]
        if not wanted:
            return {}
        counts = self._describe(sorted({tp.topic for tp in wanted}))
        for tp in wanted:
            n = counts[tp.topic]
            if not 0 <= tp.partition < n:
                raise UnknownPartition(
                    f"topic {tp.topic!r} has partitions 0..{n - 1}; "
                    f"partition {tp.partition} does not exist"
                )
        specs = {kafka.TopicPartition(tp.topic, tp.partition): OffsetSpec.LATEST for tp in wanted}
        found = self._admin_call(
            "read end offsets",
            lambda a: a.list_partition_offsets(
                specs, isolation_level=IsolationLevel.READ_COMMITTED
            ),
        )
        return {TopicPartition(k.topic, k.partition): int(v.offset) for k, v in found.items()}

    def committed(self, group: str, tp: TopicPartition) -> int | None:
        """``group``'s committed offset for ``tp``, ignoring offsets still pending in an
        open transaction (a consumer's own OffsetFetch under read_committed would wait
        for that transaction to end)."""
        ktp = kafka.TopicPartition(tp.topic, tp.partition)
        found = self._admin_call(
            f"read committed offsets of group {group!r}",
            lambda a: a.list_group_offsets({group: [ktp]}),
        )
        meta = found.get(group, {}).get(ktp)
        return None if meta is None or meta.offset < 0 else int(meta.offset)

    def producer(self, transactional_id: str | None = None) -> KafkaProducer:
        if self._closed:
            raise IllegalState(f"the broker {self.url} is closed; open it again")
        return KafkaProducer(self, transactional_id)

    def consumer(
        self,
        group: str,
        topics: Iterable[str],
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ) -> KafkaMember:
        if self._closed:
            raise IllegalState(f"the broker {self.url} is closed; open it again")
        return KafkaMember(self, group, topics, on_assign, on_revoke)

    def group_metadata(self, group: str) -> ConsumerGroupMetadata | str:
        """What ``send_offsets_to_transaction`` passes for ``group``: the generation of
        this process's one joined member of it on this cluster (so the broker fences a
        member that was rebalanced away, KIP-447), else just the group id (no fencing).
        Members made through any KafkaBroker of the same bootstrap count: a worker's
        spout and sink bolt may each open their own."""
        joined: ConsumerGroupMetadata | None = joined_metadata(self.bootstrap, group)
        return group if joined is None else joined

    def close(self) -> None:
        """Disconnect the admin client; producers and consumers stay open until closed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            admin, self._admin = self._admin, None
        if admin is not None:
            with translate("close the admin client", self.bootstrap):
                admin.close()
