"""The local Kafka stack, for real: up from nothing, up again, status, down, errors.

Runs a second, private Kafka on free ports in a temporary stack directory (so it never
touches the shared one on 9092), reusing the shared jar cache so Maven runs at most once.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.broker.kafka import KafkaBroker
from squall.deploy.exceptions import JavaNotFound, PortInUse
from squall.deploy.stack import StackPaths, kafka, paths, process
from squall.settings import load_settings
from squall.topics import topic_partitions

pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("java_and_maven")]


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[kafka.KafkaStack]:
    shared = paths(load_settings())
    port, controller = _free_ports(2)
    stack = kafka.KafkaStack(
        StackPaths(tmp_path / "stack", shared.jars, shared.maven_repo),
        port=port,
        controller_port=controller,
        heap="256m",
    )
    try:
        yield stack
    finally:
        process.stop(stack.service(), timeout=30)


def test_up_is_idempotent_status_tells_and_down_stops(private_stack: kafka.KafkaStack) -> None:
    settings = load_settings()
    stack = private_stack
    [before] = kafka.status(settings, stack)
    assert not before.running

    [first] = kafka.up(settings, stack)
    assert first.running and first.healthy and first.address == stack.bootstrap
    assert (stack.dir / "data" / "meta.properties").is_file()
    assert stack.server_log.is_file()
    with KafkaBroker(stack.bootstrap) as broker:
        assert {t: broker.partitions(t) for t in topic_partitions(settings)} == topic_partitions(
            settings
        )

    [again] = kafka.up(settings, stack)
    assert (again.pid, again.detail) == (first.pid, "already running")
    [now] = kafka.status(settings, stack)
    assert now.running and now.healthy and now.pid == first.pid

    # another stack wanting the same ports gets a clear error, and starts nothing
    other = kafka.KafkaStack(
        StackPaths(stack.paths.root.parent / "other", stack.paths.jars, None),
        port=stack.port,
        controller_port=stack.controller_port,
    )
    with pytest.raises(PortInUse, match=str(stack.port)):
        kafka.up(settings, other)

    [stopped] = kafka.down(settings, stack)
    assert stopped.detail == "stopped" and not stopped.running
    assert first.pid is not None and process.running_pid(stack.service()) is None
    assert not kafka.serves_metadata(stack.bootstrap)
    [noop] = kafka.down(settings, stack)
    assert noop.detail == "was not running"


def test_a_cluster_id_that_begins_with_a_dash_is_formatted(
    private_stack: kafka.KafkaStack,
) -> None:
    """One random id in 64 begins with "-": it must not read as an option."""
    cluster_id = "-" + base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()[1:]
    private_stack.dir.mkdir(parents=True)
    (private_stack.dir / "cluster.id").write_text(cluster_id + "\n")
    [up] = kafka.up(load_settings(), private_stack)
    assert up.healthy
    meta = (private_stack.dir / "data" / "meta.properties").read_text()
    assert f"cluster.id={cluster_id}\n" in meta


def test_missing_java_is_reported_before_anything_starts(
    private_stack: kafka.KafkaStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(private_stack.paths.root / "no-jdk"))
    with pytest.raises(JavaNotFound):
        kafka.up(load_settings(), private_stack)
    assert not private_stack.dir.exists()


def test_cli_status_of_an_empty_stack_dir(tmp_path: Path) -> None:
    env = {**os.environ, "SQUALL_STACK_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "squall", "stack", "status", "kafka"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("kafka: not running")
