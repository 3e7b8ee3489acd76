"""Spouts and bolts that connect a topology to the broker (local log or Kafka)."""

from squall.compute.connectors.bolt import BrokerBolt
from squall.compute.connectors.spout import BrokerBatchSpout, BrokerSpout

__all__ = ["BrokerBatchSpout", "BrokerBolt", "BrokerSpout"]
