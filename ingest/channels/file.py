"""Flume's file channel: a durable, bounded write-ahead log of committed puts.

Each committed put is one checksummed record (``ingest.channels.wal``), written with one
``write`` and made durable with ``fdatasync`` before ``commit`` returns. Concurrent
commits share fsyncs (group commit): whoever gets the sync lock syncs everything
written so far, and the others find their record already durable.

Layout of ``directory``::

    wal-00000001.log ...   segments, rolled at ``segment_bytes``, fsynced before rolling
    checkpoint.json        position of the first record not yet delivered by a sink

On open, records from the checkpoint on are replayed into the channel (at-least-once:
a sink may see again what it delivered just before a crash; the ``id`` header lets the
next stage drop such duplicates). A torn tail of the last segment is truncated; damage
anywhere else raises ``ChannelCorrupted``. Segments wholly before the checkpoint are
deleted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from squall.ingest.channels.base import Channel, ChannelStats, Transaction
from squall.ingest.channels.wal import (
    HEADER,
    RecordInfo,
    encode_record,
    fsync_dir,
    scan_segment,
    segment_name,
    segment_number,
)
from squall.ingest.event import Event
from squall.ingest.exceptions import ChannelCorrupted, ChannelError, ChannelFull

__all__ = ["FileChannel"]

log = logging.getLogger(__name__)

Pos = tuple[int, int]  # (segment number, byte offset)


class _Rec:
    __slots__ = ("count", "end", "length", "offset", "put_ms", "seg")

    def __init__(self, seg: int, offset: int, length: int, count: int, put_ms: int) -> None:
        self.seg = seg
        self.offset = offset
        self.length = length
        self.count = count
        self.put_ms = put_ms
        self.end: Pos = (seg, offset + length)

    @property
    def pos(self) -> Pos:
        return (self.seg, self.offset)


class FileChannel(Channel):
    """Durable channel in ``directory``; see the module docstring."""

    name = "file"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        capacity_events: int = 1_000_000,
        capacity_bytes: int = 2**30,
        segment_bytes: int = 64 * 2**20,
        retry_after: float = 1.0,
    ) -> None:
        self.directory = Path(directory)
        self.capacity_events = capacity_events
        self.capacity_bytes = capacity_bytes
        self.segment_bytes = segment_bytes
        self.retry_after = retry_after
        self._lock = threading.Lock()  # guards everything below except the fsync itself
        self._ready = threading.Condition(self._lock)
        self._sync_lock = threading.Lock()  # one fsync at a time; taken before _lock
        self._cp_lock = threading.Lock()
        self._pending: deque[_Rec] = deque()  # written, not yet fsynced: invisible
        self._available: deque[_Rec] = deque()  # durable, takeable, in log order
        self._inflight: dict[int, list[_Rec]] = {}  # taken, not yet committed, by tx
        self._readers: dict[int, int] = {}
        self._events = 0
        self._bytes = 0
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="file-channel")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ChannelError(
                f"cannot create file channel directory {self.directory}: {exc}"
            ) from exc
        self._seg = self._recover() + 1
        self._fd = self._create_segment(self._seg)
        self._offset = 0
        self._written: Pos = (self._seg, 0)
        self._synced: Pos = (self._seg, 0)

    # -- Channel -------------------------------------------------------------------
    def transaction(self) -> Transaction:
        return _FileTransaction(self)

    def stats(self) -> ChannelStats:
        with self._lock:
            firsts = [recs[0].put_ms for recs in self._inflight.values() if recs]
            for q in (self._available, self._pending):
                if q:
                    firsts.append(q[0].put_ms)
            age = max(0.0, time.time() - min(firsts) / 1000) if firsts else 0.0
            return ChannelStats(
                self._events, self._bytes, self.capacity_events, self.capacity_bytes, age
            )

    def wait(self, timeout: float) -> bool:
        with self._ready:
            return self._ready.wait_for(lambda: bool(self._available), timeout)

    def close(self) -> None:
        with self._sync_lock, self._lock:
            if self._fd >= 0:
                os.fdatasync(self._fd)
                os.close(self._fd)
                self._fd = -1
            for fd in self._readers.values():
                os.close(fd)
            self._readers.clear()
        self._executor.shutdown(wait=True)

    # -- recovery ------------------------------------------------------------------
    def _checkpoint_path(self) -> Path:
        return self.directory / "checkpoint.json"

    def _read_checkpoint(self) -> Pos | None:
        try:
            raw = orjson.loads(self._checkpoint_path().read_bytes())
            return (int(raw["segment"]), int(raw["offset"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            log.warning("file channel: unreadable checkpoint, replaying all segments")
            return None

    def _recover(self) -> int:
        """Replay segments into ``_available``; return the highest segment number."""
        segs = sorted(n for p in self.directory.iterdir() if (n := segment_number(p)) is not None)
        if not segs:
            return 0
        cp = self._read_checkpoint()
        if cp is None or cp[0] not in segs:
            cp = (segs[0], 0)
        for n in segs:
            if n < cp[0]:
                (self.directory / segment_name(n)).unlink()
        live = [n for n in segs if n >= cp[0]]
        for n in live:
            path = self.directory / segment_name(n)
            start = cp[1] if n == cp[0] else 0
            if start > path.stat().st_size:
                start = 0  # stale checkpoint: replay the segment (duplicates, not loss)
            for item in scan_segment(path, start):
                if isinstance(item, RecordInfo):
                    rec = _Rec(n, item.offset, item.length, item.events, item.put_ms)
                    self._available.append(rec)
                    self._events += rec.count
                    self._bytes += rec.length
                    continue
                offset, reason = item
                if n != live[-1]:
                    raise ChannelCorrupted(
                        f"file channel segment {path} is damaged at byte {offset} "
                        f"({reason}) and is not the last segment. Move it out of "
                        f"{self.directory} to start without it; its events from that "
                        f"byte on are lost."
                    )
                size = path.stat().st_size
                with open(path, "r+b") as f:
                    f.truncate(offset)
                    os.fsync(f.fileno())
                log.warning(
                    "file channel: truncated the torn tail of %s at byte %d (%s, %d bytes); "
                    "a crash cut that write short, and it had not been acknowledged",
                    path,
                    offset,
                    reason,
                    size - offset,
                )
        if self._available:
            log.info(
                "file channel: replayed %d events in %d records from %s",
                self._events,
                len(self._available),
                self.directory,
            )
        return segs[-1]

    def _create_segment(self, n: int) -> int:
        path = self.directory / segment_name(n)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            fsync_dir(self.directory)
        except OSError as exc:
            raise ChannelError(f"cannot create file channel segment {path}: {exc}") from exc
        return fd

    # -- puts ----------------------------------------------------------------------
    def _append(self, events: list[Event]) -> Pos:
        """Write one record (not yet durable); return the position its durability needs."""
        count = len(events)
        put_ms = int(time.time() * 1000)
        data = encode_record(orjson.dumps(events), count, put_ms)
        n = len(data)
        with self._lock:
            if self._events + count > self.capacity_events or self._bytes + n > self.capacity_bytes:
                raise ChannelFull(
                    f"file channel is full ({self._events} events, {self._bytes} bytes held; "
                    f"capacity {self.capacity_events} events, {self.capacity_bytes} bytes): "
                    f"the sink is behind. Retry after {self.retry_after:g}s.",
                    self.retry_after,
                )
            self._events += count
            self._bytes += n
            roll = self._offset > 0 and self._offset + n > self.segment_bytes
        try:
            if roll:
                with self._sync_lock, self._lock:
                    if self._offset > 0 and self._offset + n > self.segment_bytes:
                        self._roll()
            with self._lock:
                offset = self._offset
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(self._fd, view) :]
                except OSError:
                    os.ftruncate(self._fd, offset)
                    raise
                rec = _Rec(self._seg, offset, n, count, put_ms)
                self._offset += n
                self._written = rec.end
                self._pending.append(rec)
                return rec.end
        except (OSError, ChannelError) as exc:
            with self._lock:
                self._events -= count
                self._bytes -= n
            if isinstance(exc, ChannelError):
                raise
            raise ChannelError(
                f"file channel cannot write to {self.directory}: {exc}. "
                f"Free disk space or fix permissions; retry after {self.retry_after:g}s."
            ) from exc

    def _roll(self) -> None:
        """Start a new segment; caller holds _sync_lock and _lock. The old one is fully
        synced first, so only the last segment can ever have a torn tail."""
        new_fd = self._create_segment(self._seg + 1)  # if this fails, the old one stays
        os.fdatasync(self._fd)
        os.close(self._fd)
        self._synced = self._written
        self._publish(self._synced)
        self._seg += 1
        self._fd = new_fd
        self._offset = 0
        self._written = (self._seg, 0)

    def _publish(self, through: Pos) -> None:
        """Make durable pending records takeable; caller holds _lock."""
        moved = False
        while self._pending and self._pending[0].end <= through:
            self._available.append(self._pending.popleft())
            moved = True
        if moved:
            self._ready.notify_all()

    def _sync_through(self, pos: Pos) -> None:
        """Return once everything up to ``pos`` is on disk (group commit)."""
        with self._sync_lock:
            with self._lock:
                if self._synced >= pos:
                    return
                target, fd = self._written, self._fd
            try:
                os.fdatasync(fd)
            except OSError as exc:
                raise ChannelError(f"file channel fsync failed in {self.directory}: {exc}") from exc
            with self._lock:
                self._synced = max(self._synced, target)
                self._publish(self._synced)

    # -- takes ---------------------------------------------------------------------
    def _reader(self, seg: int) -> int:
        fd = self._readers.get(seg)
        if fd is None:
            fd = self._readers[seg] = os.open(self.directory / segment_name(seg), os.O_RDONLY)
        return fd

    def _take(self, key: int, max_events: int) -> list[Event]:
        taken: list[_Rec] = []
        count = 0
        with self._lock:
            while self._available:
                n = self._available[0].count
                if taken and count + n > max_events:
                    break
                taken.append(self._available.popleft())
                count += n
            if not taken:
                return []
            self._inflight.setdefault(key, []).extend(taken)
            fds = [self._reader(r.seg) for r in taken]
        events: list[Event] = []
        for rec, fd in zip(taken, fds, strict=True):
            data = os.pread(fd, rec.length, rec.offset)
            events.extend(orjson.loads(memoryview(data)[HEADER:]))
        return events

    def _finish(self, key: int, delivered: bool) -> None:
        with self._lock:
            taken = self._inflight.pop(key, [])
            if not taken:
                return
            if delivered:
                self._events -= sum(r.count for r in taken)
                self._bytes -= sum(r.length for r in taken)
            else:
                if not self._available or taken[-1].pos < self._available[0].pos:
                    self._available.extendleft(reversed(taken))
                else:  # several concurrent takers rolled back out of order
                    merged = sorted([*taken, *self._available], key=lambda r: r.pos)
                    self._available = deque(merged)
                self._ready.notify_all()
                return
        self._checkpoint()

    def _frontier(self) -> Pos:
        firsts = [recs[0].pos for recs in self._inflight.values() if recs]
        for q in (self._available, self._pending):
            if q:
                firsts.append(q[0].pos)
        return min(firsts) if firsts else self._written

    def _checkpoint(self) -> None:
        with self._cp_lock:
            with self._lock:
                seg, offset = self._frontier()
            tmp = self.directory / "checkpoint.json.tmp"
            tmp.write_bytes(orjson.dumps({"segment": seg, "offset": offset}))
            os.replace(tmp, self._checkpoint_path())
            with self._lock:
                old = [n for n in self._readers if n < seg]
                for n in old:
                    os.close(self._readers.pop(n))
            for p in self.directory.iterdir():
                number = segment_number(p)
                if number is not None and number < seg:
                    p.unlink(missing_ok=True)


class _FileTransaction(Transaction):
    def __init__(self, channel: FileChannel) -> None:
        super().__init__()
        self._channel = channel
        self._puts: list[Event] = []
        self._took = False

    def put(self, events: list[Event]) -> None:
        self._puts.extend(events)

    def take(self, max_events: int) -> list[Event]:
        events = self._channel._take(id(self), max_events)
        self._took = self._took or bool(events)
        return events

    def commit(self) -> None:
        if self._puts:
            self._channel._sync_through(self._channel._append(self._puts))
        self._end(delivered=True)

    async def commit_async(self) -> None:
        if self._puts:
            pos = self._channel._append(self._puts)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._channel._executor, self._channel._sync_through, pos)
        self._end(delivered=True)

    def rollback(self) -> None:
        self._end(delivered=False)

    def _end(self, delivered: bool) -> None:
        if self._took:
            self._channel._finish(id(self), delivered)
        self._puts, self._took, self._done = [], False, True
