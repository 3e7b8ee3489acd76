"""The file channel's write-ahead log format: checksummed records in numbered segments.

A record is one committed put::

    magic  b"SQW1"   4 bytes
    length u32       payload bytes
    count  u32       events in the payload
    crc32  u32       over count, put time and payload
    time   u64       put time, epoch milliseconds
    payload          orjson array of events

A crash can leave the last segment with a partial or garbled record at its end (a torn
tail: it was never acknowledged, because a put is acknowledged only after fsync). Any
damage before that, or in an older segment, is corruption.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "HEADER",
    "MAGIC",
    "RecordInfo",
    "encode_record",
    "fsync_dir",
    "scan_segment",
    "segment_name",
    "segment_number",
]

MAGIC = b"SQW1"
_FMT = struct.Struct(">4sIIIQ")
HEADER = _FMT.size  # 24
_CRC_PART = struct.Struct(">IQ")


class RecordInfo(NamedTuple):
    """Where a valid record sits; the payload is read later, on take."""

    offset: int
    length: int  # whole record, header included
    events: int
    put_ms: int


def encode_record(payload: bytes, count: int, put_ms: int) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(_CRC_PART.pack(count, put_ms)))
    return _FMT.pack(MAGIC, len(payload), count, crc, put_ms) + payload


def segment_name(number: int) -> str:
    return f"wal-{number:08d}.log"


def segment_number(path: Path) -> int | None:
    stem = path.name
    if not (stem.startswith("wal-") and stem.endswith(".log")):
        return None
    digits = stem[4:-4]
    return int(digits) if digits.isdigit() else None


def scan_segment(path: Path, start: int) -> Iterator[RecordInfo | tuple[int, str]]:
    """Valid records from ``start`` on; on the first invalid one yields (offset, reason)
    and stops. Reaching the exact end of the file yields nothing more."""
    size = path.stat().st_size
    offset = start
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while offset < size:
            if size - offset < HEADER:
                yield (offset, f"{size - offset} trailing bytes, shorter than a record header")
                return
            head = f.read(HEADER)
            magic, length, count, crc, put_ms = _FMT.unpack(head)
            if magic != MAGIC:
                yield (offset, "no record marker")
                return
            if size - offset - HEADER < length:
                yield (offset, f"record of {length} bytes cut off at end of file")
                return
            payload = f.read(length)
            if zlib.crc32(payload, zlib.crc32(_CRC_PART.pack(count, put_ms))) != crc:
                yield (offset, "checksum mismatch")
                return
            yield RecordInfo(offset, HEADER + length, count, put_ms)
            offset += HEADER + length


def fsync_dir(path: Path) -> None:
    """Make a file creation, rename or deletion in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
