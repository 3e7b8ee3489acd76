"""Spouts and bolts that connect a topology to the broker (local log or Kafka)."""

from compute.connectors.sink import BrokerSink
from compute.connectors.spout import BrokerBatchSpout, BrokerSpout

__all__ = ["BrokerBatchSpout", "BrokerSink", "BrokerSpout"]
