"""kafka-python's errors turned into squall.broker.exceptions at the edge.

Every call into kafka-python goes through ``translate``, so nothing above the broker
role sees a ``kafka.errors`` type. The mapping, most specific first:

    ProducerFencedError, InvalidProducerEpochError,
    TransactionCoordinatorFencedError               -> ProducerFenced
    CommitFailedError, IllegalGenerationError,
    UnknownMemberIdError, RebalanceInProgressError,
    FencedInstanceIdError                           -> CommitFailed
    UnknownTopicOrPartitionError                    -> UnknownTopic
    IllegalStateError                               -> IllegalState
    KafkaTimeoutError, KafkaConnectionError,
    NodeNotReadyError, other retriable errors       -> BrokerUnavailable
    any other KafkaError                            -> BrokerError
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from squall.broker.exceptions import (
    BrokerError,
    BrokerUnavailable,
    CommitFailed,
    IllegalState,
    ProducerFenced,
    UnknownTopic,
)

with warnings.catch_warnings():  # kafka-python's own import-time DeprecationWarning
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.errors as kerrors
    from kafka.net.compat import KafkaNetClient

__all__ = ["FENCED", "REBALANCED", "construct", "convert", "kerrors", "translate"]

T = TypeVar("T")

FENCED: tuple[type[Exception], ...] = (
    kerrors.ProducerFencedError,
    kerrors.InvalidProducerEpochError,
    kerrors.TransactionCoordinatorFencedError,
)
REBALANCED: tuple[type[Exception], ...] = (
    kerrors.CommitFailedError,
    kerrors.IllegalGenerationError,
    kerrors.UnknownMemberIdError,
    kerrors.RebalanceInProgressError,
    kerrors.FencedInstanceIdError,
)


def convert(exc: Exception, action: str, bootstrap: str) -> BrokerError:
    """The squall error for a kafka-python error raised while doing ``action``."""
    if isinstance(exc, FENCED):
        return ProducerFenced(
            f"could not {action}: a newer producer with the same transactional_id took "
            f"over, so this one can no longer commit; close it ({exc})"
        )
    if isinstance(exc, REBALANCED):
        return CommitFailed(
            f"could not {action}: the group rebalanced and these partitions may now belong "
            f"to another member, which reads from the last committed offset ({exc})"
        )
    if isinstance(exc, kerrors.UnknownTopicOrPartitionError):
        return UnknownTopic(
            f"could not {action}: the topic or partition does not exist on {bootstrap}; "
            f"create it with create_topic() first"
        )
    if isinstance(exc, kerrors.IllegalStateError):
        return IllegalState(f"could not {action}: {exc}")
    if isinstance(exc, kerrors.KafkaTimeoutError | kerrors.RetriableError):
        return BrokerUnavailable(
            f"could not {action}: Kafka at {bootstrap} did not answer in time ({exc}); is it "
            f"running? (`squall stack up kafka` starts a local one)"
        )
    return BrokerError(f"could not {action} on Kafka at {bootstrap}: {exc}")


@contextmanager
def translate(action: str, bootstrap: str) -> Iterator[None]:
    """Re-raise kafka-python errors inside the block as squall broker errors."""
    try:
        yield
    except kerrors.KafkaError as exc:
        raise convert(exc, action, bootstrap) from exc


def construct(factory: Callable[..., T], action: str, bootstrap: str, **config: Any) -> T:
    """Build a kafka-python client (producer, consumer, admin). If it cannot connect,
    close what it had already built -- kafka-python leaves the I/O thread and sockets of
    a client whose bootstrap failed running -- and raise the squall error."""
    made: list[Any] = []

    def tracking_client(*args: Any, **kwargs: Any) -> Any:
        client = KafkaNetClient(*args, **kwargs)
        made.append(client)
        return client

    try:
        return factory(kafka_client=tracking_client, **config)
    except BaseException as exc:
        for client in made:
            with contextlib.suppress(Exception):
                client.close()
        if isinstance(exc, kerrors.KafkaError):
            raise convert(exc, action, bootstrap) from exc
        raise
