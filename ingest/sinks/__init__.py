"""Sinks: where events go after the channel (broker topic, file, or nowhere)."""

from squall.ingest.sinks.base import Sink
from squall.ingest.sinks.broker import BrokerSink
from squall.ingest.sinks.simple import FileSink, NullSink

__all__ = ["BrokerSink", "FileSink", "NullSink", "Sink"]
