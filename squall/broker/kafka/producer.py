"""Squall's producer on Kafka: kafka-python's KafkaProducer behind the broker contract.

Always acks=all with idempotence (a retried batch is never written twice), batched with
``linger_ms``/``batch_size`` and compressed. ``send`` only queues; a delivery failure is
remembered and raised by the next ``flush`` (kafka-python's own flush does not raise),
so "flush returned" means "every record before it is durable", as the contract says.

With a ``transactional_id`` the producer calls ``init_transactions`` at once, which
fences any older producer with that id (a zombie worker) and aborts its open
transaction. A failed commit aborts the transaction and raises TransactionAborted (or
ProducerFenced, after which the producer is useless); the producer can begin again.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from squall.broker.base import TopicPartition, check_record, no_such_partition
from squall.broker.exceptions import (
    BrokerError,
    BrokerUnavailable,
    IllegalState,
    TransactionAborted,
)
from squall.broker.kafka.errors import FENCED, construct, convert, kerrors, translate
from squall.broker.partitioner import KeyPartitioner
from squall.broker.txn_state import TransactionalState

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka
    from kafka.structs import OffsetAndMetadata

if TYPE_CHECKING:
    from squall.broker.kafka.broker import KafkaBroker

__all__ = ["KafkaProducer"]


log = logging.getLogger(__name__)


class KafkaProducer(TransactionalState):
    """A producer on one KafkaBroker (see module docstring). Not thread-safe."""

    def __init__(self, broker: KafkaBroker, transactional_id: str | None = None):
        self._broker = broker
        self._where = broker.bootstrap
        o = broker.options
        config: dict[str, Any] = {
            "bootstrap_servers": broker.servers,
            "client_id": o.client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": o.linger_ms,
            "batch_size": o.batch_size,
            "compression_type": o.compression,
            "bootstrap_timeout_ms": o.bootstrap_timeout_ms,
            "reconnect_backoff_max_ms": o.reconnect_backoff_max_ms,
            "request_timeout_ms": o.request_timeout_ms,
            "max_block_ms": o.max_block_ms,
            "delivery_timeout_ms": max(o.delivery_timeout_ms, o.linger_ms + o.request_timeout_ms),
        }
        if transactional_id is not None:
            config["transactional_id"] = transactional_id
            config["transaction_timeout_ms"] = o.transaction_timeout_ms
        self._producer = construct(kafka.KafkaProducer, "connect a producer", self._where, **config)
        self._send = self._producer.send
        self._partitions: dict[str, int] = {}
        self._partition_of = KeyPartitioner()  # kafka-python's, minus murmur2 per send
        self._error: Exception | None = None  # first delivery failure since the last flush
        self._init_state(transactional_id)
        if transactional_id is not None:
            try:
                with translate(f"register transactional id {transactional_id!r}", self._where):
                    self._producer.init_transactions()
            except BrokerError:
                self._producer.close(timeout=1)
                raise

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
            if key is not None:
                partition = self._partition_of(key, n)
        elif not 0 <= partition < n:
            raise no_such_partition(topic, partition, n)
        try:
            future = self._send(topic, value, key, None, partition)
        except kerrors.KafkaError as exc:
            raise convert(exc, f"send to {topic!r}", self._where) from exc
        future.add_errback(self._failed)

    def _failed(self, exc: Exception) -> None:  # on kafka-python's I/O thread
        # records of an aborted transaction fail with TransactionAbortedError, maybe
        # after abort_transaction() returned: expected, and not this transaction's failure
        if self._error is None and not isinstance(exc, kerrors.TransactionAbortedError):
            self._error = exc

    def flush(self) -> None:
        """Block until every record sent so far is acknowledged by all in-sync replicas;
        raise the first delivery failure since the last flush (BrokerUnavailable when
        Kafka could not be reached in ``delivery_timeout_ms``)."""
        if self._closed:
            raise IllegalState("this producer is closed; make a new one with broker.producer()")
        with translate("flush records", self._where):
            self._producer.flush()
        error, self._error = self._error, None
        if error is not None:
            raise convert(error, "deliver records", self._where) from error

    # -- transactions ------------------------------------------------------------------

    def begin_transaction(self) -> None:
        self._check_transactional("begin_transaction", open_txn=False)
        self._txn_call("begin a transaction", self._producer.begin_transaction)
        self._in_txn = True
        self._sendable = True

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group: str
    ) -> None:
        """Commit ``group``'s offsets with the transaction. When this process has exactly
        one member of ``group`` that has joined, its generation goes along (KIP-447), so
        the broker refuses the offsets of a member that was rebalanced away."""
        self._check_transactional("send_offsets_to_transaction", open_txn=True)
        if not offsets:
            return
        converted = {
            kafka.TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(int(o), "", -1)
            for tp, o in offsets.items()
        }
        metadata = self._broker.group_metadata(group)
        manager = self._producer._transaction_manager
        self._txn_call(
            f"send offsets of group {group!r}",
            lambda: self._bounded(
                manager.send_offsets_to_transaction(converted, metadata), "send offsets"
            ),
        )

    def commit_transaction(self) -> None:
        self._check_transactional("commit_transaction", open_txn=True)
        try:
            self._txn_call("commit the transaction", self._end_txn_call(commit=True))
            error, self._error = self._error, None
            if error is not None:  # cannot happen if kafka-python aborts on failed sends
                raise TransactionAborted(f"a record of the transaction failed: {error}")
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
            self._end_txn_call(commit=False)()
        except FENCED:
            self._fenced = True  # the coordinator already aborted it for the new producer
        except kerrors.KafkaError as exc:
            raise convert(exc, "abort the transaction", self._where) from exc

    def _end_txn_call(self, commit: bool) -> Any:
        """kafka-python's commit/abort_transaction, but waiting at most ``max_block_ms``
        (kafka-python waits forever, and 3.0.12 can lose the EndTxn request when the
        coordinator's connection breaks)."""
        manager = self._producer._transaction_manager

        def call() -> None:
            begin = manager.begin_commit if commit else manager.begin_abort
            self._bounded(begin(), "commit" if commit else "abort")

        return call

    def _bounded(self, result: Any, what: str) -> None:
        """Wait for a transactional request's result; BrokerUnavailable at the deadline.

        The outcome is then unknown (the broker may have committed), so the producer is
        unusable: a new producer with the same transactional_id settles the transaction
        (``init_transactions`` completes or aborts it), and the caller resumes from the
        group's committed offsets, which tell what happened."""
        self._producer._sender.wakeup()
        timeout_ms = self._broker.options.max_block_ms
        if not result.wait(timeout_ms=timeout_ms):
            raise BrokerUnavailable(self._unknown_outcome(what, self._where, timeout_ms / 1000))

    def _txn_call(self, action: str, call: Any) -> None:
        """Run a transactional call; on failure abort (when possible) and raise
        ProducerFenced or TransactionAborted."""
        try:
            call()
        except FENCED as exc:
            self._fenced = True
            self._in_txn = False
            self._sendable = False
            raise convert(exc, action, self._where) from exc
        except kerrors.KafkaError as exc:
            if self._in_txn:
                try:
                    self._end_txn_call(commit=False)()
                except (kerrors.KafkaError, BrokerUnavailable) as abort_exc:
                    log.warning("could not abort after a failed %s: %s", action, abort_exc)
                    if isinstance(abort_exc, FENCED):
                        self._fenced = True
            self._in_txn = False
            self._sendable = False
            self._error = None
            raise TransactionAborted(
                f"could not {action}, so the transaction was aborted and nothing in it is "
                f"visible: {convert(exc, action, self._where)}"
            ) from exc

    def _release(self) -> None:
        with translate("close the producer", self._where):
            self._producer.close(timeout=10)
