"""``open_broker``: a broker URL -> the client behind the contract (squall.broker.base).

The clients are imported only when asked for (kafka-python, confluent-kafka and SQLite
each cost import time), and this module, not the contract, knows all three: the
contract imports none of its implementations.
"""

from __future__ import annotations

from squall.broker.base import Broker
from squall.exceptions import ConfigError

__all__ = ["open_broker"]


def open_broker(url: str) -> Broker:
    """Open ``local://PATH`` (embedded log) or ``kafka://HOST:PORT[,HOST:PORT]``, with
    ``?client=confluent`` for confluent-kafka clients instead of kafka-python's."""
    scheme, sep, rest = url.partition("://")
    if not sep or not rest:
        raise ConfigError(f"broker URL {url!r} is not valid; use local://PATH or kafka://HOST:PORT")
    if scheme == "local":
        from squall.broker.local import LocalBroker

        return LocalBroker(rest)
    if scheme == "kafka":
        servers, _, query = rest.partition("?")
        client = _kafka_client(query, url)
        if client == "confluent":
            from squall.broker.confluent import ConfluentBroker

            return ConfluentBroker(servers)
        from squall.broker.kafka import KafkaBroker

        return KafkaBroker(servers)  # type: ignore[no-any-return,unused-ignore]
    raise ConfigError(f"unknown broker scheme {scheme!r} in {url!r}; use local:// or kafka://")


def _kafka_client(query: str, url: str) -> str:
    """``client=kafka-python`` (the default) or ``client=confluent`` from a kafka:// URL."""
    client = "kafka-python"
    for item in filter(None, query.split("&")):
        name, _, value = item.partition("=")
        if name != "client" or value not in ("kafka-python", "confluent"):
            raise ConfigError(
                f"broker URL {url!r}: unknown option {item!r}; the only option is "
                f"client=kafka-python (the default) or client=confluent"
            )
        client = value
    return client
