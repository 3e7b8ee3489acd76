"""Bearer-token auth, one check for every HTTP service (collector, query API).

``SQUALL_INGEST_TOKENS`` and ``SQUALL_QUERY_TOKENS`` list the tokens each accepts; none
configured means auth is off. The check is constant-time: the given token is compared
with ``hmac.compare_digest`` against every configured token, without stopping at the
first match, so timing reveals neither a token's prefix nor which token matched. Neither
the tokens nor what a client sent ever appear in a message (messages end up in logs).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

__all__ = ["BearerAuth"]


class BearerAuth:
    """Checks an ``Authorization: Bearer <token>`` header against configured tokens."""

    def __init__(self, tokens: Iterable[str], service: str = "this service") -> None:
        self._tokens = tuple(t.encode("utf-8") for t in tokens if t)
        self.service = service

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def problem(self, authorization: str | None) -> str | None:
        """None if the header is allowed; otherwise the 401's message (naming no token)."""
        if not self._tokens:
            return None
        if not authorization:
            return f"{self.service} requires a token: send 'Authorization: Bearer <token>'"
        scheme, _, given = authorization.partition(" ")
        candidate = given.strip().encode("utf-8", "surrogateescape")
        ok = False
        for token in self._tokens:  # every token, match or not: constant time
            ok |= hmac.compare_digest(token, candidate)
        if scheme.lower() != "bearer" or not candidate:
            return "Authorization must be 'Bearer <token>'"
        if not ok:
            return (
                f"the bearer token is not valid for {self.service}: send "
                "'Authorization: Bearer <token>' with one of the tokens it was given"
            )
        return None

    def allows(self, authorization: str | None) -> bool:
        return self.problem(authorization) is None
