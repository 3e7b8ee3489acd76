"""The agent configuration: one file in the spirit of a Flume agent, plus SQUALL_* overrides.

A TOML (or JSON, by extension) file with four sections::

    [source]                     # HTTP source: where to listen, limits, tokens
    host = "127.0.0.1"
    port = 8100
    max_events = 10000

    [[interceptors]]             # applied in this order
    type = "timestamp"
    [[interceptors]]
    type = "regex_extractor"
    regex = '"(?P<method>[A-Z]+) '

    [channel]
    type = "file"                # or "memory"
    dir = ".squall/channel"
    capacity_events = 1000000

    [sink]
    type = "broker"              # or "file" (path = ...), "null"
    topic = "logs.raw"
    batch_size = 1000

Precedence, lowest first: built-in defaults (which follow the settings: data dir,
broker, topic, host, port, tokens), the file, then settings given explicitly as
``SQUALL_*`` variables or command-line flags.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from squall.ingest.exceptions import CollectorConfigError
from squall.ingest.source.formats import Limits
from squall.settings import Settings

__all__ = ["CollectorConfig", "load_config"]

_SOURCE_KEYS = {"host", "port", "tokens", *(f.name for f in fields(Limits))}
_CHANNEL_KEYS = {
    "memory": {"type", "capacity_events", "capacity_bytes", "retry_after"},
    "file": {"type", "dir", "capacity_events", "capacity_bytes", "segment_bytes", "retry_after"},
}
_RUNNER_KEYS = {"type", "batch_size", "backoff_initial", "backoff_max"}
_SINK_KEYS = {
    "broker": _RUNNER_KEYS | {"url", "topic", "key_header", "partitions"},
    "file": _RUNNER_KEYS | {"path"},
    "null": _RUNNER_KEYS,
}
DEFAULT_INTERCEPTORS: list[dict[str, Any]] = [
    {"type": "timestamp"},
    {"type": "host"},
    {"type": "uuid"},
]


@dataclass(frozen=True)
class CollectorConfig:
    """A resolved agent configuration (plain values, validated)."""

    source: dict[str, Any]
    interceptors: list[dict[str, Any]]
    channel: dict[str, Any]
    sink: dict[str, Any]

    @property
    def limits(self) -> Limits:
        return Limits(**{k: v for k, v in self.source.items() if k in _LIMIT_NAMES})


_LIMIT_NAMES = {f.name for f in fields(Limits)}


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CollectorConfigError(f"cannot read collector config {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CollectorConfigError(f"collector config {path} does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise CollectorConfigError(f"collector config {path} must be a table/object")
    unknown = set(data) - {"source", "interceptors", "channel", "sink"}
    if unknown:
        raise CollectorConfigError(
            f"collector config {path}: unknown sections {sorted(unknown)}; "
            f"use source, interceptors, channel, sink"
        )
    return data


def _section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise CollectorConfigError(f"collector config: [{name}] must be a table")
    return dict(value)


def _check(section: str, values: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(values) - allowed
    if unknown:
        raise CollectorConfigError(
            f"collector config [{section}]: unknown keys {sorted(unknown)}; "
            f"allowed: {sorted(allowed)}"
        )
    for key, value in values.items():
        if key in {"type", "dir", "url", "topic", "key_header", "path", "host"}:
            if not isinstance(value, str) or not value:
                raise CollectorConfigError(f"[{section}] {key} must be a non-empty string")
        elif key == "tokens":
            if not isinstance(value, list | tuple | frozenset | set) or not all(
                isinstance(t, str) for t in value
            ):
                raise CollectorConfigError(f"[{section}] tokens must be a list of strings")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise CollectorConfigError(f"[{section}] {key} must be a positive number")


def load_config(
    path: str | os.PathLike[str] | None,
    settings: Settings,
    explicit: Collection[str] = (),
) -> CollectorConfig:
    """Defaults from ``settings``, then the file at ``path``, then the settings named in
    ``explicit`` (those set by SQUALL_* variables or flags)."""
    data = _read(Path(path)) if path else {}
    source: dict[str, Any] = {
        "host": settings.collector_host,
        "port": settings.collector_port,
        "tokens": sorted(settings.ingest_tokens),
        **_section(data, "source"),
    }
    channel_file = _section(data, "channel")
    channel: dict[str, Any] = {"type": channel_file.get("type", "file")}
    if channel["type"] == "file":
        channel["dir"] = str(settings.data_dir / "channel")
    channel.update(channel_file)
    sink_file = _section(data, "sink")
    sink: dict[str, Any] = {"type": sink_file.get("type", "broker"), "batch_size": 1000}
    if sink["type"] == "broker":
        sink.update(url=settings.broker_url, topic=settings.topic_raw)
    elif sink["type"] == "file":
        sink["path"] = str(settings.data_dir / "collector-sink.jsonl")
    sink.update(sink_file)
    interceptors = data.get("interceptors", DEFAULT_INTERCEPTORS)
    if not isinstance(interceptors, list) or not all(isinstance(i, dict) for i in interceptors):
        raise CollectorConfigError("collector config: [[interceptors]] must be a list of tables")

    overrides = {
        "collector_host": ("source", "host", settings.collector_host),
        "collector_port": ("source", "port", settings.collector_port),
        "ingest_tokens": ("source", "tokens", sorted(settings.ingest_tokens)),
        "broker": ("sink", "url", settings.broker_url),
        "topic_raw": ("sink", "topic", settings.topic_raw),
    }
    for name in explicit:
        if name in overrides:
            section, key, value = overrides[name]
            target = source if section == "source" else sink
            if section == "sink" and sink["type"] != "broker":
                continue
            target[key] = value

    _check("source", source, _SOURCE_KEYS)
    if channel["type"] not in _CHANNEL_KEYS:
        raise CollectorConfigError(
            f"unknown channel type {channel['type']!r}; use one of {sorted(_CHANNEL_KEYS)}"
        )
    _check("channel", channel, _CHANNEL_KEYS[channel["type"]])
    if sink["type"] not in _SINK_KEYS:
        raise CollectorConfigError(
            f"unknown sink type {sink['type']!r}; use one of {sorted(_SINK_KEYS)}"
        )
    _check("sink", sink, _SINK_KEYS[sink["type"]])
    config = CollectorConfig(source, [dict(i) for i in interceptors], channel, sink)
    cap = channel.get("capacity_events")
    if cap is not None and config.limits.max_events > cap:
        raise CollectorConfigError(
            f"[source] max_events ({config.limits.max_events}) exceeds the channel's "
            f"capacity_events ({cap}); such a request could never be accepted"
        )
    return config
