"""The HTTP source: requests -> validated events -> one channel transaction each."""

from squall.ingest.source.formats import Limits
from squall.ingest.source.http import HttpSource

__all__ = ["HttpSource", "Limits"]
