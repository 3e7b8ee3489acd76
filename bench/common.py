"""What every benchmark prints: the machine, and resident memory."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from pathlib import Path

__all__ = ["LOGS", "flume_events", "machine", "rss_mib", "tree_rss_mib"]

LOGS = Path(__file__).resolve().parent.parent / "tests" / "data" / "apache_logs"


def machine() -> str:
    """One line naming the machine and interpreter, for the record."""
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


def rss_mib(pid: int | str = "self") -> float:
    """Current resident set size of a process, MiB (Linux /proc)."""
    with open(f"/proc/{pid}/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread ended
            kids += [int(k) for k in task.read_text().split()]
    return kids


def tree_rss_mib(pid: int) -> float:
    """Resident set size of a process and all its descendants (e.g. a collector's
    worker processes), MiB; processes that end meanwhile count as 0."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += rss_mib(p)
        except OSError:
            continue
        todo += _children(p)
    return total


def flume_events(n: int) -> list[bytes]:
    """``n`` Flume JSON events (as the collector puts them on ``logs.raw``) cycling over
    the real apache_logs lines, ~309 bytes each.

    json, not orjson: each orjson.dumps() result keeps ~4 KiB of RSS (its allocation is
    not shrunk), which would swamp the memory figures for a million small events."""
    lines = LOGS.read_text(encoding="utf-8").splitlines()
    return [
        json.dumps(
            {
                "headers": {"timestamp": str(1_431_000_000_000 + i), "service": "web"},
                "body": lines[i % len(lines)],
            },
            separators=(",", ":"),
        ).encode()
        for i in range(n)
    ]
