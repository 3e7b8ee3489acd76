"""Sinks: where events go after the channel (broker topic, file, or nowhere)."""

from ingest.sinks.base import Sink
from ingest.sinks.broker import BrokerSink
from ingest.sinks.simple import FileSink, NullSink

__all__ = ["BrokerSink", "FileSink", "NullSink", "Sink"]
