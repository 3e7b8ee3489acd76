"""Squall's producer on Kafka through confluent-kafka (librdkafka): acks=all,
idempotent, lz4 by default, keyed records placed as Java's default partitioner places
them, optional transactions with offsets (KIP-447 fencing when this process has a
joined member of the group).

librdkafka sends from its own threads; delivery reports are served here in ``send``
(cheaply, every few hundred records), ``flush`` and the transactional calls. Every
blocking call waits at most ``max_block_ms`` (``delivery_timeout_ms`` for ``flush``).
librdkafka 2.16 does not always honour its own timeout in transactional calls: after a
broker restart, ``send_offsets_to_transaction`` was seen to block for good. So those
calls run on a helper thread and the producer gives up on them at the deadline
(marking itself unusable, as when the outcome is unknown); a new producer with the same
transactional_id settles the transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import confluent_kafka as ck

from squall.broker.base import TopicPartition, check_record, no_such_partition
from squall.broker.confluent.errors import (
    KafkaError,
    KafkaException,
    convert,
    error_of,
    is_fenced,
)
from squall.broker.exceptions import (
    BrokerUnavailable,
    IllegalState,
    TransactionAborted,
)
from squall.broker.partitioner import KeyPartitioner
from squall.broker.txn_state import TransactionalState

if TYPE_CHECKING:
    from squall.broker.confluent.broker import ConfluentBroker

__all__ = ["ConfluentProducer"]

log = logging.getLogger("squall.broker.confluent")
_librdkafka_log = logging.getLogger("librdkafka")

_SERVE_EVERY = 512  # records between serving delivery reports in send()
_PURGED = {KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT}
_GRACE_S = 2.0  # beyond max_block_ms before a transactional call is given up


class ConfluentProducer(TransactionalState):
    """A producer on one ConfluentBroker (see module docstring). Not thread-safe."""

    def __init__(self, broker: ConfluentBroker, transactional_id: str | None = None):
        self._broker = broker
        self._where = broker.bootstrap
        o = broker.options
        self._block_s = o.max_block_ms / 1000
        self._delivery_s = max(o.delivery_timeout_ms, o.linger_ms + o.request_timeout_ms) / 1000
        config: dict[str, Any] = {
            "bootstrap.servers": broker.bootstrap,
            "client.id": o.client_id,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": o.linger_ms,
            "batch.size": o.batch_size,
            "compression.type": o.compression or "none",
            "partitioner": "murmur2_random",  # Java's, for keys we do not place ourselves
            "request.timeout.ms": o.request_timeout_ms,
            "message.timeout.ms": int(self._delivery_s * 1000),
            "reconnect.backoff.max.ms": o.reconnect_backoff_max_ms,
            "logger": _librdkafka_log,
            "error_cb": _log_error,
            "on_delivery": self._delivered,
        }
        if transactional_id is not None:
            config["transactional.id"] = transactional_id
            config["transaction.timeout.ms"] = o.transaction_timeout_ms
        self._producer = ck.Producer(config)
        self._produce = self._producer.produce
        self._partitions: dict[str, int] = {}
        self._partition_of = KeyPartitioner()
        self._unserved = 0
        self._error: KafkaError | None = None  # first delivery failure since the last flush
        self._init_state(transactional_id)
        if transactional_id is not None:
            try:
                self._bounded(lambda: self._producer.init_transactions(self._block_s), "init")
            except KafkaException as exc:
                self._producer.flush(0)
                raise convert(
                    error_of(exc), f"register transactional id {transactional_id!r}", self._where
                ) from exc

    def _delivered(self, error: KafkaError | None, _message: Any) -> None:
        # records of an aborted transaction are purged, maybe reported after
        # abort_transaction() returned: expected, and not a later transaction's failure
        if error is not None and self._error is None and error.code() not in _PURGED:
            self._error = error

    # -- sending (hot path) ------------------------------------------------------------

    def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> None:
        """Queue one record (see ``Producer.send``). Hot: no I/O but a topic's first use."""
        if not self._sendable:
            self._refuse_send()
        check_record(key, value)
        n = self._partitions.get(topic)
        if n is None:
            n = self._partitions[topic] = self._broker.partitions(topic)
        if partition is None:
            partition = -1 if key is None else self._partition_of(key, n)
        elif not 0 <= partition < n:
            raise no_such_partition(topic, partition, n)
        try:
            self._produce(topic, value, key, partition)
        except BufferError:
            self._wait_for_room(topic, value, key, partition)
        except KafkaException as exc:
            raise convert(error_of(exc), f"send to {topic!r}", self._where) from exc
        self._unserved += 1
        if self._unserved >= _SERVE_EVERY:
            self._unserved = 0
            self._producer.poll(0)

    def _wait_for_room(self, topic: str, value: bytes, key: bytes | None, partition: int) -> None:
        """librdkafka's queue is full: serve deliveries until there is room, at most
        ``max_block_ms``."""
        deadline = time.monotonic() + self._block_s
        while True:
            self._producer.poll(0.05)
            try:
                self._produce(topic, value, key, partition)
                return
            except BufferError:
                if time.monotonic() >= deadline:
                    raise BrokerUnavailable(
                        f"Kafka at {self._where} took no records for {self._block_s:.0f} s "
                        f"(the producer's queue is full); is it running?"
                    ) from None

    def flush(self) -> None:
        """Block until every record sent so far is acknowledged by all in-sync replicas;
        raise the first delivery failure since the last flush."""
        if self._closed:
            raise IllegalState("this producer is closed; make a new one with broker.producer()")
        left = self._producer.flush(self._delivery_s)
        error, self._error = self._error, None
        if error is not None:
            raise convert(error, "deliver records", self._where)
        if left:
            raise BrokerUnavailable(
                f"Kafka at {self._where} did not acknowledge {left} records in "
                f"{self._delivery_s:.0f} s; is it running?"
            )

    # -- transactions ------------------------------------------------------------------

    def begin_transaction(self) -> None:
        self._check_transactional("begin_transaction", open_txn=False)
        self._txn_call("begin a transaction", self._producer.begin_transaction)  # local
        self._in_txn = True
        self._sendable = True

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group: str
    ) -> None:
        """Commit ``group``'s offsets with the transaction, fenced by the generation of
        this process's joined member of ``group`` when there is exactly one (KIP-447)."""
        self._check_transactional("send_offsets_to_transaction", open_txn=True)
        if not offsets:
            return
        wanted = [ck.TopicPartition(tp.topic, tp.partition, int(o)) for tp, o in offsets.items()]
        metadata = self._broker.group_metadata(group)
        self._txn_call(
            f"send offsets of group {group!r}",
            lambda: self._producer.send_offsets_to_transaction(wanted, metadata, self._block_s),
        )

    def commit_transaction(self) -> None:
        self._check_transactional("commit_transaction", open_txn=True)
        try:
            self._txn_call(
                "commit the transaction", lambda: self._producer.commit_transaction(self._block_s)
            )
            error, self._error = self._error, None
            if error is not None:  # librdkafka fails the commit itself; kept for safety
                raise TransactionAborted(f"a record of the transaction failed: {error.str()}")
        finally:
            self._in_txn = False
            self._sendable = False

    def abort_transaction(self) -> None:
        """Discard the open transaction; a no-op when none is open (e.g. after a failed
        commit, which already aborted it), so ``except: abort_transaction()`` is safe."""
        if self._closed or self._transactional_id is None:
            self._check_transactional("abort_transaction")
        if not self._in_txn:
            return
        self._in_txn = False
        self._sendable = False
        self._error = None
        try:
            self._bounded(lambda: self._producer.abort_transaction(self._block_s), "abort")
        except KafkaException as exc:
            error = error_of(exc)
            if is_fenced(error):
                self._fenced = True  # the coordinator already aborted it
                return
            raise convert(error, "abort the transaction", self._where) from exc

    def _txn_call(self, action: str, call: Any) -> None:
        """Run a transactional call; on failure abort (when possible) and raise
        ProducerFenced, BrokerUnavailable (outcome unknown) or TransactionAborted."""
        try:
            self._bounded(call, action)
        except KafkaException as exc:
            error = error_of(exc)
            if is_fenced(error) or (error is not None and error.fatal()):
                self._fenced = is_fenced(error)
                self._in_txn = self._sendable = False
                if not self._fenced:
                    self._broken = str(convert(error, action, self._where))
                raise convert(error, action, self._where) from exc
            if error is not None and error.retriable() and not error.txn_requires_abort():
                broken = self._unknown_outcome(action, self._where, self._block_s)
                raise BrokerUnavailable(broken) from exc
            if self._in_txn:
                try:
                    self._bounded(lambda: self._producer.abort_transaction(self._block_s), "abort")
                except KafkaException as abort_exc:
                    log.warning("could not abort after a failed %s: %s", action, abort_exc)
                    if is_fenced(error_of(abort_exc)):
                        self._fenced = True
            self._in_txn = self._sendable = False
            self._error = None
            raise TransactionAborted(
                f"could not {action}, so the transaction was aborted and nothing in it is "
                f"visible: {convert(error, action, self._where)}"
            ) from exc

    def _bounded(self, call: Any, what: str) -> None:
        """Run a blocking transactional call, waiting at most ``max_block_ms`` (and a
        little) for it: BrokerUnavailable and an unusable producer after that."""
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                call()
            except BaseException as exc:
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=run, name="squall-txn-call", daemon=True).start()
        if not done.wait(self._block_s + _GRACE_S):
            raise BrokerUnavailable(self._unknown_outcome(what, self._where, self._block_s))
        if failure:
            raise failure[0]


def _log_error(error: KafkaError) -> None:
    log.debug("librdkafka: %s", error)
