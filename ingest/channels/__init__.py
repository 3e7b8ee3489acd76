"""Channels: the transactional buffer between source and sink (memory or durable file)."""

from ingest.channels.base import Channel, ChannelStats, Transaction
from ingest.channels.file import FileChannel
from ingest.channels.memory import MemoryChannel

__all__ = ["Channel", "ChannelStats", "FileChannel", "MemoryChannel", "Transaction"]
