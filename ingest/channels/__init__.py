"""Channels: the transactional buffer between source and sink (memory or durable file)."""

from squall.ingest.channels.base import Channel, ChannelStats, Transaction
from squall.ingest.channels.file import FileChannel
from squall.ingest.channels.memory import MemoryChannel

__all__ = ["Channel", "ChannelStats", "FileChannel", "MemoryChannel", "Transaction"]
