"""The agent configuration: defaults from settings, the file, then explicit overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from squall.ingest import build_agent, load_config
from squall.ingest.channels import FileChannel, MemoryChannel
from squall.ingest.exceptions import CollectorConfigError
from squall.ingest.sinks import FileSink
from squall.settings import load_settings

TOML = """
[source]
port = 9999
max_events = 500

[[interceptors]]
type = "static"
key = "dc"
value = "eu"

[channel]
type = "memory"
capacity_events = 1000

[sink]
type = "file"
path = "{out}"
batch_size = 50
"""


def test_defaults_follow_the_settings(tmp_path: Path) -> None:
    settings = load_settings({"SQUALL_DATA_DIR": str(tmp_path), "SQUALL_INGEST_TOKENS": "a,b"})
    config = load_config(None, settings)
    assert (config.source["host"], config.source["port"]) == ("127.0.0.1", 8100)
    assert config.source["tokens"] == ["a", "b"]
    assert config.channel == {"type": "file", "dir": str(tmp_path / "channel")}
    assert config.sink["type"] == "broker"
    assert config.sink["url"] == f"local://{(tmp_path / 'log').resolve()}"
    assert config.sink["topic"] == "logs.raw"
    assert [i["type"] for i in config.interceptors] == ["timestamp", "host", "uuid"]


def test_file_then_explicit_settings(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(TOML.format(out=tmp_path / "out.jsonl"))
    env = {"SQUALL_DATA_DIR": str(tmp_path), "SQUALL_COLLECTOR_PORT": "8123"}
    settings = load_settings(env)
    from_file = load_config(path, settings)
    assert from_file.source["port"] == 9999  # the file beats defaults
    assert from_file.limits.max_events == 500
    overridden = load_config(path, settings, explicit={"collector_port"})
    assert overridden.source["port"] == 8123  # an explicit SQUALL_* beats the file
    agent = build_agent(overridden)
    assert isinstance(agent.channel, MemoryChannel) and agent.channel.capacity_events == 1000
    assert isinstance(agent.runner.sink, FileSink) and agent.runner.batch_size == 50
    events = agent.source.chain([{"headers": {}, "body": "x"}])
    assert events[0]["headers"] == {"dc": "eu"}


def test_json_config_and_file_channel(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text(
        json.dumps(
            {
                "channel": {"dir": str(tmp_path / "c"), "segment_bytes": 4096},
                "sink": {"type": "null"},
                "interceptors": [],
            }
        )
    )
    agent = build_agent(load_config(path, load_settings({})))
    assert isinstance(agent.channel, FileChannel) and agent.channel.segment_bytes == 4096
    assert len(agent.source.chain) == 0
    agent.channel.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nope]\n", r"unknown sections \['nope'\]"),
        ("[source]\nprot = 1\n", r"\[source\]: unknown keys \['prot'\]"),
        ("[source]\nport = -1\n", "port must be a positive number"),
        ('[channel]\ntype = "kafka"\n', "unknown channel type 'kafka'"),
        ('[sink]\ntype = "hdfs"\n', "unknown sink type 'hdfs'"),
        ('[channel]\ntype = "memory"\ncapacity_events = 10\n', "exceeds the channel's"),
        ("[source\n", "does not parse"),
        ('[sink]\ntype = "null"\nbatch_size = "big"\n', "batch_size must be a positive"),
        ('[source]\ntokens = "abc"\n', "tokens must be a list of strings"),
    ],
)
def test_bad_configs_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    with pytest.raises(CollectorConfigError, match=message):
        load_config(path, load_settings({}))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CollectorConfigError, match="cannot read collector config"):
        load_config(tmp_path / "absent.toml", load_settings({}))


def test_the_example_config_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "ingest" / "collector.example.toml"
    config = load_config(example, load_settings({}))
    assert (config.channel["type"], config.sink["type"]) == ("file", "broker")
    assert [i["type"] for i in config.interceptors] == ["timestamp", "host", "uuid"]
