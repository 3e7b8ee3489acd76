"""Spouts and bolts that connect a topology to the broker (local log or Kafka)."""

from compute.connectors.sink import BrokerSink
from compute.connectors.spout import BrokerSpout

__all__ = ["BrokerSink", "BrokerSpout"]
