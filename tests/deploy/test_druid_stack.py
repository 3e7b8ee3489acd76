"""The local Druid stack: its generated configuration (no Druid needed) and, against the
running services (``druid_stack``), status, idempotent ``up`` and loopback-only sockets."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from squall.deploy.stack import druid, zookeeper
from squall.deploy.stack.druid_conf import SERVICES, write_conf
from squall.settings import Settings, load_settings

PORTS = {"coordinator": 8081, "broker": 8082, "historical": 8083, "indexer": 8091, "router": 8888}
UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "k": 2**10, "m": 2**20, "g": 2**30}


def _props(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", text).groups()  # type: ignore[union-attr]
    return int(number) * UNITS.get(unit, 1)


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    write_conf(tmp_path / "conf", tmp_path / "var", "127.0.0.1:2181")
    return tmp_path / "conf"


def test_services_ports_and_order(conf: Path) -> None:
    assert [s.name for s in SERVICES] == list(PORTS)  # coordinator (Derby, overlord) first
    for name, port in PORTS.items():
        props = _props(conf / name / "runtime.properties")
        assert props["druid.service"] == f"druid/{name}"
        assert props["druid.plaintextPort"] == str(port)


def test_common_config_is_loopback_absolute_and_extension_free(conf: Path, tmp_path: Path) -> None:
    common = _props(conf / "_common" / "common.runtime.properties")
    assert (common["druid.host"], common["druid.bindOnHost"]) == ("127.0.0.1", "true")
    assert common["druid.extensions.loadList"] == "[]"  # extensions come from the classpath
    assert common["druid.zk.service.host"] == "127.0.0.1:2181"
    assert common["druid.emitter"] == "noop"
    var = str(tmp_path / "var")
    for key in ("druid.storage.storageDirectory", "druid.indexer.logs.directory"):
        assert common[key].startswith(var + "/") and Path(common[key]).is_absolute()
    uri = common["druid.metadata.storage.connector.connectURI"]
    assert uri == f"jdbc:derby://127.0.0.1:1527/{var}/metadata.db;create=true"
    assert (conf / "_common" / "log4j2.xml").is_file()


def test_data_services_fit_their_direct_memory(conf: Path) -> None:
    """Druid refuses to start unless (threads + merge buffers + 1) buffers fit."""
    for service in SERVICES:
        props = _props(conf / service.name / "runtime.properties")
        if "druid.processing.buffer.sizeBytes" not in props:
            continue
        buffers = int(props["druid.processing.numThreads"]) + int(
            props["druid.processing.numMergeBuffers"]
        )
        need = (buffers + 1) * _bytes(props["druid.processing.buffer.sizeBytes"])
        assert need <= _bytes(service.direct), service.name


def test_indexer_has_two_task_slots(conf: Path) -> None:
    props = _props(conf / "indexer" / "runtime.properties")
    assert int(props["druid.worker.capacity"]) >= 2  # a publishing task and its successor


def test_jvm_command(tmp_path: Path) -> None:
    settings = load_settings(environ={"SQUALL_DATA_DIR": str(tmp_path)})
    jvms = druid.services(settings, tmp_path / "lib")
    assert [j.name for j in jvms] == [f"druid-{name}" for name in PORTS]
    for jvm, name in zip(jvms, PORTS, strict=True):
        command = jvm.command("java")
        assert command[command.index("-cp") + 1].split(":") == [
            str(tmp_path / "stack" / "druid" / "conf" / name),
            str(tmp_path / "stack" / "druid" / "conf" / "_common"),
            f"{tmp_path / 'lib'}/*",
        ]
        assert command[-3:] == ["org.apache.druid.cli.Main", "server", name]
        assert "-Duser.timezone=UTC" in command
        assert "--add-opens=java.base/java.nio=ALL-UNNAMED" in command
        assert jvm.ports[0] == PORTS[name]


# -- against the running stack ---------------------------------------------------------


def _listening(port: int) -> list[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


# the first of these pays for starting Druid (and resolving its jars on a new machine)
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


@pytest.mark.druid
@pytest.mark.timeout(900)
def test_every_service_is_healthy_and_listens_on_loopback_only(druid_stack: Settings) -> None:
    states = druid.status(druid_stack)
    names = [s.name for s in states]
    assert names[: 1 + len(PORTS)] == ["zookeeper", *(f"druid-{n}" for n in PORTS)]
    assert all(s.running and s.healthy for s in states[: 1 + len(PORTS)]), states
    for port in (zookeeper.PORT, 1527, *PORTS.values()):
        addresses = _listening(port)
        assert addresses and set(addresses) <= LOOPBACK, (port, addresses)


@pytest.mark.druid
@pytest.mark.timeout(900)
def test_up_again_leaves_running_services_alone(druid_stack: Settings) -> None:
    before = {s.name: s.pid for s in druid.status(druid_stack) if s.pid}
    again = druid.up(replace(druid_stack), supervisor=False)
    assert {s.name: s.pid for s in again if s.pid} == before
    assert all("already running" in s.detail for s in again)


@pytest.mark.druid
@pytest.mark.timeout(900)
def test_cli_status(druid_stack: Settings) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "squall",
            "--data-dir",
            str(druid_stack.data_dir),
            "stack",
            "status",
            "druid",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in PORTS:
        assert re.search(
            rf"^druid-{name}: running \(pid \d+\) on http://127.0.0.1:{PORTS[name]}, healthy",
            done.stdout,
            re.M,
        ), done.stdout
