"""One place that reads ``SQUALL_*`` environment variables, so every command agrees.

Flags given on the command line override these (the CLI passes them as ``overrides``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from squall.exceptions import ConfigError

__all__ = ["Settings", "load_settings"]


def _split_tokens(raw: str) -> frozenset[str]:
    return frozenset(t.strip() for t in raw.split(",") if t.strip())


def _flag(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("give 1 or 0 (true/false, yes/no, on/off)")


def _workers(raw: str) -> int:
    workers = int(raw)
    if workers < 1:
        raise ValueError("give 1 or more worker processes")
    return workers


def _days(raw: str) -> int:
    days = int(raw)
    if days < 0:
        raise ValueError("days must be 0 (keep everything) or more")
    return days


@dataclass(frozen=True)
class Settings:
    """Resolved settings; defaults are those of design.md."""

    data_dir: Path = Path(".squall")
    broker: str = ""  # "" means local://<data_dir>/log
    store: str = ""  # "" means duckdb://<data_dir>/metrics.duckdb
    collector_host: str = "127.0.0.1"
    collector_port: int = 8100
    collector_workers: int = 1  # processes sharing the port, each its own channel segment
    serve_host: str = "127.0.0.1"
    serve_port: int = 8200
    topic_raw: str = "logs.raw"
    topic_metrics: str = "logs.metrics"
    topic_deadletter: str = "logs.deadletter"
    topic_workers: str = "logs.workers"  # each compute worker's metrics, every few seconds
    topic_events: str = "logs.events"  # every parsed event with its raw line (search)
    datasource: str = "log_metrics"
    events_datasource: str = "log_events"
    events: bool = True  # SQUALL_EVENTS=0: the topology emits no events, search finds none
    events_retention_days: int = 7  # events older than this (by wall clock) go; 0 keeps all
    group_prefix: str = "squall"  # consumer groups are "<prefix>-log-metrics" etc.
    ingest_tokens: frozenset[str] = field(default_factory=frozenset)
    query_tokens: frozenset[str] = field(default_factory=frozenset)
    query_timeout: float = 10.0  # seconds a query may run (serve.limits)
    duckdb_memory_limit: str = "512MB"  # DuckDB's cache and work memory (its default: 80% of RAM)
    tls_certfile: str = ""  # PEM; with tls_keyfile, HTTPS on the collector and API (squall.tls)
    tls_keyfile: str = ""

    @property
    def broker_url(self) -> str:
        return self.broker or f"local://{(self.data_dir / 'log').resolve()}"

    @property
    def store_url(self) -> str:
        return self.store or f"duckdb://{(self.data_dir / 'metrics.duckdb').resolve()}"


_CONVERTERS: dict[str, Callable[[str], object]] = {
    "data_dir": Path,
    "collector_port": int,
    "collector_workers": _workers,
    "serve_port": int,
    "events": _flag,
    "events_retention_days": _days,
    "ingest_tokens": _split_tokens,
    "query_tokens": _split_tokens,
    "query_timeout": float,
}


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None
) -> Settings:
    """Settings from ``SQUALL_<NAME>`` variables, then ``overrides`` (flags) on top."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = env.get(f"SQUALL_{f.name.upper()}")
        if raw is None or raw == "":
            continue
        convert = _CONVERTERS.get(f.name, str)
        try:
            values[f.name] = convert(raw)
        except ValueError as exc:
            raise ConfigError(
                f"SQUALL_{f.name.upper()}={raw!r} is not valid: {exc}. "
                f"Unset it or give a value of the right kind."
            ) from exc
    settings = replace(Settings(), **values)  # type: ignore[arg-type]
    if overrides:
        known = {f.name for f in fields(Settings)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
        converted = {
            k: _CONVERTERS[k](v) if isinstance(v, str) and k in _CONVERTERS else v
            for k, v in overrides.items()
            if v is not None
        }
        settings = replace(settings, **converted)  # type: ignore[arg-type]
    return settings
