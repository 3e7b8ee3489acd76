"""One warning line per rejected request, rate-limited, so an operator sees why a
shipper's requests fail without reading /metrics, and a flood of bad requests cannot
flood the log: at most ``burst`` lines per ``period`` seconds, then one line that says
how many more were left out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RejectionLog"]


class RejectionLog:
    """Logs ``status``, reason, client and path of rejected requests, within a budget."""

    __slots__ = ("_clock", "_left_out", "_logged", "_since", "burst", "log", "period")

    def __init__(
        self,
        log: logging.Logger,
        burst: int = 20,
        period: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.burst, self.period, self._clock = log, burst, period, clock
        self._since = clock()
        self._logged = self._left_out = 0

    def warn(self, status: int, reason: str, message: str, client: str, path: str) -> None:
        now = self._clock()
        if now - self._since >= self.period:
            if self._left_out:
                self.log.warning(
                    "%d more rejected requests were not logged in the last %.0f s "
                    "(counts by reason: squall_ingest_rejected_requests_total in /metrics)",
                    self._left_out,
                    now - self._since,
                )
            self._since, self._logged, self._left_out = now, 0, 0
        if self._logged >= self.burst:
            self._left_out += 1
            return
        self._logged += 1
        self.log.warning("rejected %s from %s: %d %s: %s", path, client, status, reason, message)
