"""Optional bearer-token auth for the source (``SQUALL_INGEST_TOKENS``)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from squall.ingest.exceptions import Unauthorized

__all__ = ["TokenAuth"]


class TokenAuth:
    """Checks ``Authorization: Bearer <token>`` against the configured tokens.

    Every token is compared with ``hmac.compare_digest`` and without stopping at the
    first match, so timing reveals neither a token's prefix nor which token matched.
    No tokens configured means auth is off.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = tuple(t.encode() for t in tokens)

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def check(self, authorization: str | None) -> None:
        if not self._tokens:
            return
        if not authorization:
            raise Unauthorized(
                "this collector requires a token: send 'Authorization: Bearer <token>'"
            )
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        candidate = given.strip().encode("utf-8", "surrogateescape")
        ok = False
        for token in self._tokens:
            ok |= hmac.compare_digest(token, candidate)
        if not ok:
            raise Unauthorized("the bearer token is not valid for this collector")
