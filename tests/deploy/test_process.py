"""deploy.stack.process on a real JVM: a tiny Java program run from source."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from squall.deploy.exceptions import JavaNotFound, PortInUse, ServiceFailed
from squall.deploy.stack import process

pytestmark = pytest.mark.usefixtures("java_and_maven")

# prints "up <arg>", says "bye" from a shutdown hook (so a clean SIGTERM is visible);
# with "stubborn" it ignores SIGTERM, with "crash" it exits at once with status 3
_PROGRAM = """
public class Sleeper {
    public static void main(String[] args) throws Exception {
        if (args[0].equals("crash")) { System.out.println("crashing"); System.exit(3); }
        if (args[0].equals("stubborn")) {
            sun.misc.Signal.handle(new sun.misc.Signal("TERM"), s -> System.out.println("ignored"));
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("bye")));
        System.out.println("up " + args[0]);
        Thread.sleep(600_000);
    }
}
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    source = tmp_path / "Sleeper.java"
    source.write_text(_PROGRAM)
    return source


def _service(
    program: Path, run_dir: Path, arg: str, ports: tuple[int, ...] = ()
) -> process.JvmService:
    return process.JvmService(
        name="sleeper",
        main_class=str(program),  # java runs a single source file directly
        classpath=[],
        run_dir=run_dir,
        args=[arg],
        heap="32m",
        ports=ports,
    )


def _log_has(service: process.JvmService, text: str) -> bool:
    return service.log_file.is_file() and text in service.log_file.read_text()


def test_start_is_idempotent_and_stop_is_a_clean_sigterm(program: Path, tmp_path: Path) -> None:
    service = _service(program, tmp_path / "run", "fine")
    assert process.running_pid(service) is None
    pid, started = process.start(service)
    try:
        assert started
        assert service.pidfile.read_text().strip() == str(pid)
        assert process.start(service) == (pid, False)  # already running: same process
        process.wait_healthy(service, pid, lambda: _log_has(service, "up fine"), timeout=60)
        assert process.running_pid(service) == pid
        assert service.marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    finally:
        assert process.stop(service, timeout=30)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert _log_has(service, "bye")  # the shutdown hook ran: SIGTERM, not SIGKILL
    assert not service.pidfile.exists()
    assert process.stop(service) is False
    assert process.running_pid(service) is None


def test_stop_falls_back_to_sigkill(program: Path, tmp_path: Path) -> None:
    service = _service(program, tmp_path / "run", "stubborn")
    pid, _ = process.start(service)
    process.wait_healthy(service, pid, lambda: _log_has(service, "up stubborn"), timeout=60)
    began = time.monotonic()
    assert process.stop(service, timeout=1.0)
    assert time.monotonic() - began >= 1.0
    assert _log_has(service, "ignored")  # it got SIGTERM and refused it
    assert not _log_has(service, "bye")  # then SIGKILL: no shutdown hook
    assert process.running_pid(service) is None


def test_a_service_that_dies_while_starting_is_reported_with_its_log(
    program: Path, tmp_path: Path
) -> None:
    service = _service(program, tmp_path / "run", "crash")
    pid, _ = process.start(service)
    with pytest.raises(ServiceFailed, match="crashing"):
        process.wait_healthy(service, pid, lambda: False, timeout=60)
    assert process.running_pid(service) is None


def test_a_stale_pidfile_is_not_mistaken_for_the_service(program: Path, tmp_path: Path) -> None:
    service = _service(program, tmp_path / "run", "fine")
    service.run_dir.mkdir(parents=True)
    service.pidfile.write_text(f"{os.getpid()}\n")  # alive, but not the service
    assert process.running_pid(service) is None
    assert not service.pidfile.exists()


def test_a_taken_port_is_refused_before_starting(program: Path, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        service = _service(program, tmp_path / "run", "fine", ports=(port,))
        with pytest.raises(PortInUse, match=str(port)):
            process.start(service)
    assert process.running_pid(service) is None


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(JavaNotFound, match="JAVA_HOME"):
        process.find_java()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaNotFound, match="install a JDK"):
        process.find_java()


def test_java_version_is_read(tmp_path: Path) -> None:
    java = process.find_java()
    assert process.java_version(java) >= 17
    with pytest.raises(JavaNotFound, match=r"needs Java 99 or newer"):
        process.find_java(min_version=99)
