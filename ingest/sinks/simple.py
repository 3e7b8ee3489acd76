"""Flume's small sinks: ``null`` (discard, count) and ``file`` (JSON lines, fsynced)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from squall.ingest.event import Event
from squall.ingest.exceptions import SinkError
from squall.ingest.sinks.base import Sink

__all__ = ["FileSink", "NullSink"]


class NullSink(Sink):
    """Discards events, counting them: for benchmarks and dry runs."""

    name = "null"

    def __init__(self) -> None:
        self.delivered = 0

    def process(self, events: list[Event]) -> None:
        self.delivered += len(events)


class FileSink(Sink):
    """Appends each event as one JSON line to ``path``; fsync per batch, so a returned
    ``process`` means the batch is on disk (Flume's file_roll, without rolling)."""

    name = "file"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd = -1

    def start(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            self._drop_torn_line()
        except OSError as exc:
            raise SinkError(f"file sink cannot open {self.path}: {exc}") from exc

    def process(self, events: list[Event]) -> None:
        dumps = orjson.dumps
        data = b"".join([dumps(e) + b"\n" for e in events])
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            raise SinkError(f"file sink cannot write {self.path}: {exc}") from exc

    def _drop_torn_line(self) -> None:
        """A crash mid-batch can leave a partial last line; that batch was not committed
        and will be delivered again, so cut the partial line off."""
        size = os.fstat(self._fd).st_size
        if size == 0 or os.pread(self._fd, 1, size - 1) == b"\n":
            return
        start = max(0, size - 65536)
        while True:
            tail = os.pread(self._fd, size - start, start)
            cut = tail.rfind(b"\n")
            if cut >= 0 or start == 0:
                os.ftruncate(self._fd, start + cut + 1 if cut >= 0 else 0)
                os.fsync(self._fd)
                return
            start = max(0, start - 65536)

    def stop(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
