"""Interceptors: Flume's per-event decorators and filters, chained in configured order.

Each interceptor is built once from its configuration (regexes compiled, constant
values computed) and then called on a whole request's events, so the per-event work is
a tight loop with no decisions left that could have been made at build time.

Kinds (Flume's names and defaults):

* ``timestamp``: header ``timestamp`` = epoch ms; keeps an existing one (``preserve_existing``).
* ``host``: header ``host`` = this machine's host name (or IP with ``use_ip``).
* ``static``: a fixed ``key`` = ``value``; keeps an existing one unless told otherwise.
* ``uuid``: header ``id`` = a UUID per event, for tracing and de-duplication.
* ``regex_filter``: keep only events whose body matches ``regex``, or drop them (``exclude``).
* ``regex_extractor``: ``regex`` groups -> headers (named groups, or ``headers`` by position).
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from squall.ingest.event import Event
from squall.ingest.exceptions import CollectorConfigError

__all__ = ["Interceptor", "InterceptorChain", "build_chain", "build_interceptor"]

Interceptor = Callable[[list[Event]], list[Event]]


def _timestamp(header: str = "timestamp", preserve_existing: bool = True) -> Interceptor:
    def intercept(events: list[Event]) -> list[Event]:
        now = str(int(time.time() * 1000))
        if preserve_existing:
            for e in events:  # hot
                h = e["headers"]
                if header not in h:
                    h[header] = now
        else:
            for e in events:  # hot
                e["headers"][header] = now
        return events

    return intercept


def _static(key: str, value: str, preserve_existing: bool = True) -> Interceptor:
    def intercept(events: list[Event]) -> list[Event]:
        if preserve_existing:
            for e in events:  # hot
                e["headers"].setdefault(key, value)
        else:
            for e in events:  # hot
                e["headers"][key] = value
        return events

    return intercept


def _host(
    header: str = "host", use_ip: bool = False, preserve_existing: bool = False
) -> Interceptor:
    name = socket.gethostname()
    if use_ip:
        try:
            name = socket.gethostbyname(name)
        except OSError:
            name = "127.0.0.1"
    return _static(header, name, preserve_existing)


def _uuid(header: str = "id", preserve_existing: bool = True) -> Interceptor:
    def intercept(events: list[Event]) -> list[Event]:
        # One random version-4 UUID per request; event i gets it with its low 32 bits
        # XOR i. Still a valid v4 UUID with ~90 random bits shared by at most a request's
        # events, so ids stay unique, and the per-event cost is one format, not a urandom.
        raw = bytearray(os.urandom(16))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        hexed = raw.hex()
        prefix = f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:24]}"
        low = int(hexed[24:], 16)
        if preserve_existing:
            for i, e in enumerate(events):  # hot
                h = e["headers"]
                if header not in h:
                    h[header] = f"{prefix}{low ^ i:08x}"
        else:
            for i, e in enumerate(events):  # hot
                e["headers"][header] = f"{prefix}{low ^ i:08x}"
        return events

    return intercept


def _compile(regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:
        raise CollectorConfigError(f"interceptor regex {regex!r} does not compile: {exc}") from exc


def _regex_filter(regex: str, exclude: bool = False) -> Interceptor:
    search = _compile(regex).search

    def intercept(events: list[Event]) -> list[Event]:
        if exclude:
            return [e for e in events if not search(e["body"])]  # hot
        return [e for e in events if search(e["body"])]  # hot

    return intercept


def _regex_extractor(regex: str, headers: Sequence[str] = ()) -> Interceptor:
    pattern = _compile(regex)
    if headers:
        if len(headers) > pattern.groups:
            raise CollectorConfigError(
                f"regex_extractor names {len(headers)} headers but {regex!r} has only "
                f"{pattern.groups} groups; add groups or remove header names"
            )
        names = [(i + 1, str(h)) for i, h in enumerate(headers)]
    else:
        names = [(i, n) for n, i in pattern.groupindex.items()]
        if not names:
            raise CollectorConfigError(
                f"regex_extractor {regex!r} has no named groups; name them (?P<name>...) "
                f"or list header names in 'headers'"
            )
    search = pattern.search

    def intercept(events: list[Event]) -> list[Event]:
        for e in events:  # hot
            m = search(e["body"])
            if m is not None:
                h = e["headers"]
                for group, name in names:
                    v = m.group(group)
                    if v is not None:
                        h[name] = v
        return events

    return intercept


_KINDS: dict[str, Callable[..., Interceptor]] = {
    "timestamp": _timestamp,
    "host": _host,
    "static": _static,
    "uuid": _uuid,
    "regex_filter": _regex_filter,
    "regex_extractor": _regex_extractor,
}


def build_interceptor(spec: Mapping[str, Any]) -> Interceptor:
    """One interceptor from ``{"type": kind, **options}``."""
    options = dict(spec)
    kind = options.pop("type", None)
    factory = _KINDS.get(str(kind))
    if factory is None:
        raise CollectorConfigError(
            f"unknown interceptor type {kind!r}; use one of {sorted(_KINDS)}"
        )
    try:
        return factory(**options)
    except TypeError as exc:
        raise CollectorConfigError(f"interceptor {kind!r}: bad options {options}: {exc}") from exc


class InterceptorChain:
    """Interceptors applied in order to each request's events."""

    def __init__(self, interceptors: Sequence[Interceptor] = ()) -> None:
        self._interceptors = tuple(interceptors)

    def __call__(self, events: list[Event]) -> list[Event]:
        for intercept in self._interceptors:
            events = intercept(events)
        return events

    def __len__(self) -> int:
        return len(self._interceptors)


def build_chain(specs: Sequence[Mapping[str, Any]]) -> InterceptorChain:
    """A chain from a list of interceptor specs (the ``interceptors`` config section)."""
    return InterceptorChain([build_interceptor(s) for s in specs])
