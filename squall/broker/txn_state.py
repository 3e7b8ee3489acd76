"""The state machine every producer keeps (the local log's, kafka-python's and
confluent-kafka's): plain or transactional, a transaction open or not, fenced by a
newer producer, broken by a transactional call whose outcome is unknown (Kafka only),
closed. The checks raise the contract's errors with what to do next."""

from __future__ import annotations

from squall.broker.base import Producer
from squall.broker.exceptions import BrokerUnavailable, IllegalState, ProducerFenced

__all__ = ["TransactionalState"]


class TransactionalState(Producer):
    """A producer's state and checks; subclasses add their client and ``_release``."""

    def _init_state(self, transactional_id: str | None) -> None:
        self._transactional_id = transactional_id
        self._in_txn = False
        self._fenced = False
        self._broken: str | None = None  # a transactional call timed out: outcome unknown
        self._closed = False
        self._sendable = transactional_id is None  # send() allowed without a check

    def _refuse_send(self) -> None:
        self._check_usable()
        raise IllegalState(
            f"producer {self._transactional_id!r} is transactional: call begin_transaction() "
            f"before send()"
        )

    def _check_usable(self) -> None:
        if self._closed:
            raise IllegalState("this producer is closed; make a new one with broker.producer()")
        if self._broken is not None:
            raise BrokerUnavailable(self._broken)
        if self._fenced:
            raise ProducerFenced(
                f"a newer producer with transactional_id {self._transactional_id!r} was "
                f"opened, so this one can no longer commit; close it"
            )

    def _check_transactional(self, action: str, open_txn: bool | None = None) -> None:
        """``action`` needs a usable transactional producer, and with ``open_txn`` a
        transaction open (True) or none open (False)."""
        self._check_usable()
        if self._transactional_id is None:
            raise IllegalState(
                f"{action}() needs a transactional producer: broker.producer(transactional_id=...)"
            )
        if open_txn is True and not self._in_txn:
            raise IllegalState(f"{action}() needs an open transaction; call begin_transaction()")
        if open_txn is False and self._in_txn:
            raise IllegalState("a transaction is already open; commit or abort it first")

    def _unknown_outcome(self, what: str, bootstrap: str, waited_s: float) -> str:
        """Mark the producer broken after a transactional call that did not answer."""
        self._broken = (
            f"Kafka at {bootstrap} did not answer a transactional {what} within "
            f"{waited_s:.0f} s, so its outcome is unknown; close this producer and make a new "
            f"one with transactional_id {self._transactional_id!r} (that settles the "
            f"transaction), then resume from the committed offsets"
        )
        self._in_txn = self._sendable = False
        return self._broken

    def close(self) -> None:
        """Flush (a plain producer) or abort an open transaction, then release the client."""
        if self._closed:
            return
        try:
            if self._in_txn:
                self.abort_transaction()
            elif self._transactional_id is None:
                self.flush()
        finally:
            self._closed = True
            self._sendable = False
            self._release()

    def _release(self) -> None:
        """Let go of the client or connection (close() ends with it)."""
