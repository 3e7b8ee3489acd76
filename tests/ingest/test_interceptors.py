"""Interceptors, each checked against what it must do to the events."""

from __future__ import annotations

import re
import socket
import time
import uuid

import pytest

from squall.ingest.event import Event
from squall.ingest.exceptions import CollectorConfigError
from squall.ingest.interceptors import build_chain, build_interceptor


def evs(*bodies: str, **headers: str) -> list[Event]:
    return [{"headers": dict(headers), "body": b} for b in bodies]


def test_timestamp_sets_epoch_ms_and_keeps_an_existing_one() -> None:
    before = int(time.time() * 1000)
    out = build_interceptor({"type": "timestamp"})(
        [{"headers": {}, "body": "a"}, {"headers": {"timestamp": "42"}, "body": "b"}]
    )
    after = int(time.time() * 1000)
    assert before <= int(out[0]["headers"]["timestamp"]) <= after
    assert out[1]["headers"]["timestamp"] == "42"
    forced = build_interceptor({"type": "timestamp", "preserve_existing": False})(
        evs("x", timestamp="42")
    )
    assert forced[0]["headers"]["timestamp"] != "42"


def test_host_and_static() -> None:
    out = build_chain([{"type": "host"}, {"type": "static", "key": "env", "value": "prod"}])(
        evs("a", env="dev") + evs("b")
    )
    assert [e["headers"]["host"] for e in out] == [socket.gethostname()] * 2
    assert [e["headers"]["env"] for e in out] == ["dev", "prod"]  # static keeps existing


def test_uuid_gives_distinct_valid_v4_ids_and_keeps_client_ids() -> None:
    intercept = build_interceptor({"type": "uuid"})
    ids = [e["headers"]["id"] for e in intercept(evs(*["x"] * 5000))]
    ids += [e["headers"]["id"] for e in intercept(evs(*["y"] * 5000))]
    assert len(set(ids)) == 10_000
    for i in ids[::997]:
        u = uuid.UUID(i)
        assert (u.version, u.variant, str(u)) == (4, uuid.RFC_4122, i)
    assert intercept(evs("z", id="mine"))[0]["headers"]["id"] == "mine"


def test_regex_filter_include_and_exclude() -> None:
    bodies = ["GET /a", "POST /b", "GET /c", "health"]
    keep = build_interceptor({"type": "regex_filter", "regex": "^GET "})(evs(*bodies))
    drop = build_interceptor({"type": "regex_filter", "regex": "^GET ", "exclude": True})(
        evs(*bodies)
    )
    assert [e["body"] for e in keep] == [b for b in bodies if re.search("^GET ", b)]
    assert [e["body"] for e in drop] == [b for b in bodies if not re.search("^GET ", b)]


def test_regex_extractor_named_and_positional(apache_log_lines: list[str]) -> None:
    pattern = r'"(?P<method>[A-Z]+) (?P<path>\S+)'
    lines = apache_log_lines[:200]
    out = build_interceptor({"type": "regex_extractor", "regex": pattern})(evs(*lines))
    for e, line in zip(out, lines, strict=True):
        m = re.search(pattern, line)
        expected = {"method": m.group(1), "path": m.group(2)} if m else {}
        assert e["headers"] == expected
    pos = build_interceptor(
        {"type": "regex_extractor", "regex": r"^(\S+) \S+ (\S+)", "headers": ["ip", "user"]}
    )(evs(lines[0]))
    assert pos[0]["headers"] == {"ip": lines[0].split()[0], "user": lines[0].split()[2]}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "nope"}, "unknown interceptor type 'nope'"),
        ({"type": "regex_filter", "regex": "("}, "does not compile"),
        ({"type": "regex_extractor", "regex": "a"}, "has no named groups"),
        ({"type": "regex_extractor", "regex": "(a)", "headers": ["x", "y"]}, "only 1 groups"),
        ({"type": "static", "key": "k"}, "bad options"),
    ],
)
def test_bad_specs_are_config_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(CollectorConfigError, match=re.escape(message)):
        build_interceptor(spec)
