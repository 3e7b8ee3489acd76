from pathlib import Path

import pytest

from squall.exceptions import ConfigError
from squall.settings import load_settings


def test_defaults_follow_design() -> None:
    s = load_settings(environ={})
    assert (s.collector_port, s.serve_port) == (8100, 8200)
    assert s.data_dir == Path(".squall")
    assert s.broker_url.startswith("local://") and s.broker_url.endswith("/.squall/log")
    assert s.store_url.startswith("duckdb://")
    assert s.topic_raw == "logs.raw" and s.ingest_tokens == frozenset()


def test_environment_then_overrides() -> None:
    env = {
        "SQUALL_COLLECTOR_PORT": "9100",
        "SQUALL_INGEST_TOKENS": "a, b,",
        "SQUALL_DATA_DIR": "/x",
    }
    s = load_settings(environ=env, overrides={"collector_port": 9200, "broker": None})
    assert s.collector_port == 9200
    assert s.ingest_tokens == frozenset({"a", "b"})
    assert s.broker_url == "local:///x/log"


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="SQUALL_SERVE_PORT"):
        load_settings(environ={"SQUALL_SERVE_PORT": "eighty"})
    with pytest.raises(ConfigError, match="unknown settings"):
        load_settings(environ={}, overrides={"nope": 1})


def test_the_raw_event_settings() -> None:
    s = load_settings(environ={})
    assert (s.events, s.events_retention_days, s.topic_events) == (True, 7, "logs.events")
    assert s.events_datasource == "log_events"
    s = load_settings(environ={"SQUALL_EVENTS": "0", "SQUALL_EVENTS_RETENTION_DAYS": "0"})
    assert (s.events, s.events_retention_days) == (False, 0)
    assert load_settings(environ={"SQUALL_EVENTS": "yes"}).events is True
    with pytest.raises(ConfigError, match="SQUALL_EVENTS="):
        load_settings(environ={"SQUALL_EVENTS": "maybe"})
    with pytest.raises(ConfigError, match="SQUALL_EVENTS_RETENTION_DAYS"):
        load_settings(environ={"SQUALL_EVENTS_RETENTION_DAYS": "-1"})
