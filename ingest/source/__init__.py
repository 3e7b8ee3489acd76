"""The HTTP source: requests -> validated events -> one channel transaction each."""

from ingest.source.auth import TokenAuth
from ingest.source.formats import Limits
from ingest.source.http import HttpSource

__all__ = ["HttpSource", "Limits", "TokenAuth"]
