"""What every benchmark prints: the machine, and resident memory."""

from __future__ import annotations

import os
import platform
import sys

__all__ = ["machine", "rss_mib"]


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
