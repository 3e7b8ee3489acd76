"""confluent-kafka's errors turned into squall.broker.exceptions at the edge.

librdkafka reports one ``KafkaError`` (inside a ``KafkaException``) with a code and
flags; the mapping, most specific first:

    fenced producer codes (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH,
    TRANSACTION_COORDINATOR_FENCED, _FENCED)        -> ProducerFenced
    rebalance codes (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
    REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID)      -> CommitFailed
    UNKNOWN_TOPIC_OR_PART, _UNKNOWN_TOPIC,
    _UNKNOWN_PARTITION                              -> UnknownTopic
    _STATE, INVALID_TXN_STATE                       -> IllegalState
    timeouts, transport, all brokers down, retriable -> BrokerUnavailable
    anything else                                   -> BrokerError
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import KafkaError, KafkaException

from squall.broker.exceptions import (
    BrokerError,
    BrokerUnavailable,
    CommitFailed,
    IllegalState,
    ProducerFenced,
    UnknownTopic,
)

__all__ = ["KafkaError", "KafkaException", "convert", "error_of", "is_fenced", "translate"]

_FENCED = {
    KafkaError.PRODUCER_FENCED,
    KafkaError.INVALID_PRODUCER_EPOCH,
    KafkaError.TRANSACTION_COORDINATOR_FENCED,
    KafkaError._FENCED,
}
_REBALANCED = {
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.FENCED_INSTANCE_ID,
}
_UNKNOWN = {
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION,
}
_STATE = {KafkaError._STATE, KafkaError.INVALID_TXN_STATE}
_UNAVAILABLE = {
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._MSG_TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT,
}


def error_of(exc: BaseException) -> KafkaError | None:
    """The KafkaError inside a KafkaException (None for anything else)."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def is_fenced(error: KafkaError | None) -> bool:
    return error is not None and error.code() in _FENCED


def convert(error: KafkaError | None, action: str, bootstrap: str) -> BrokerError:
    """The squall error for a librdkafka error met while doing ``action``."""
    code = None if error is None else error.code()
    text = "unknown error" if error is None else error.str()
    if code in _FENCED:
        return ProducerFenced(
            f"could not {action}: a newer producer with the same transactional_id took "
            f"over, so this one can no longer commit; close it ({text})"
        )
    if code in _REBALANCED:
        return CommitFailed(
            f"could not {action}: the group rebalanced and these partitions may now belong "
            f"to another member, which reads from the last committed offset ({text})"
        )
    if code in _UNKNOWN:
        return UnknownTopic(
            f"could not {action}: the topic or partition does not exist on {bootstrap}; "
            f"create it with create_topic() first"
        )
    if code in _STATE:
        return IllegalState(f"could not {action}: {text}")
    if code in _UNAVAILABLE or (error is not None and error.retriable()):
        return BrokerUnavailable(
            f"could not {action}: Kafka at {bootstrap} did not answer in time ({text}); is it "
            f"running? (`squall stack up kafka` starts a local one)"
        )
    return BrokerError(f"could not {action} on Kafka at {bootstrap}: {text}")


@contextmanager
def translate(action: str, bootstrap: str) -> Iterator[None]:
    """Re-raise confluent-kafka errors inside the block as squall broker errors."""
    try:
        yield
    except KafkaException as exc:
        raise convert(error_of(exc), action, bootstrap) from exc
