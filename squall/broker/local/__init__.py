"""The embedded local log (``local://PATH``): the broker role on SQLite in WAL mode.

LocalBroker      the Broker facade (squall.broker.local.broker)
LocalProducer    buffered and transactional writes (producer)
LocalConsumer    consumer-group member (consumer; membership in group)
LogOptions       tunables: retention, session timeout, busy timeout (store)
"""

from squall.broker.local.broker import LocalBroker
from squall.broker.local.consumer import LocalConsumer
from squall.broker.local.producer import LocalProducer
from squall.broker.local.store import LogOptions

__all__ = ["LocalBroker", "LocalConsumer", "LocalProducer", "LogOptions"]
