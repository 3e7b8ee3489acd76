"""Start, find, health-wait and stop one JVM service with a pidfile and a log file.

A service is described by a ``JvmService`` (main class, classpath, heap, options, the
directory that holds its pidfile and log). ``start`` launches the JVM detached (its own
session, re-parented away from the caller), so the service outlives the ``squall``
command that started it; ``running_pid`` finds it again from the pidfile and checks the
process's command line for the service's marker, so a recycled pid is never mistaken for
the service; ``stop`` sends SIGTERM, waits, then SIGKILL. Nothing here knows Kafka or
Druid: their modules build the ``JvmService`` and the health check.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from squall.deploy.exceptions import JavaNotFound, PortInUse, ServiceFailed, ServiceTimeout

__all__ = [
    "JvmService",
    "check_ports_free",
    "find_java",
    "java_version",
    "log_tail",
    "run_java_tool",
    "running_pid",
    "start",
    "stop",
    "wait_healthy",
]

_POLL = 0.1  # s between checks while waiting for a process to come up or go away
# $1 = log file, then the command; the JVM gets no terminal and none of our pipes
_LAUNCH = 'log="$1"; shift; "$@" >>"$log" 2>&1 </dev/null & echo $!'


@dataclass(frozen=True)
class JvmService:
    """One long-running JVM. ``classpath`` entries may be ``dir/*`` wildcards (the JVM
    expands them); ``ports`` are checked free before start; ``run_dir`` holds
    ``<name>.pid`` and ``<name>.log`` (the JVM's stdout and stderr)."""

    name: str
    main_class: str
    classpath: Sequence[Path | str]
    run_dir: Path
    args: Sequence[str] = ()
    heap: str = "512m"
    jvm_options: Sequence[str] = ()
    java: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    ports: Sequence[int] = ()
    host: str = "127.0.0.1"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    @property
    def marker(self) -> str:
        """A JVM option naming the service and its directory; found in its command line."""
        return f"-Dsquall.service={self.name}@{self.run_dir.resolve()}"

    def command(self, java: str) -> list[str]:
        cp = os.pathsep.join(str(entry) for entry in self.classpath)
        return [
            java,
            self.marker,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            *self.jvm_options,
            "-cp",
            cp,
            self.main_class,
            *self.args,
        ]


# -- tools -------------------------------------------------------------------------------


def find_java(java_home: str | None = None, min_version: int = 17) -> str:
    """``$JAVA_HOME/bin/java`` (or ``java_home``), else ``java`` on PATH; JavaNotFound if
    there is none or it is older than ``min_version``."""
    home = java_home or os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={home}" if home else "PATH"
        raise JavaNotFound(
            f"no java found ({where}); install a JDK {min_version} or newer "
            f"(e.g. `apt-get install openjdk-17-jdk-headless`) or set JAVA_HOME"
        )
    version = java_version(java)
    if version < min_version:
        raise JavaNotFound(
            f"{java} is Java {version}; the service needs Java {min_version} or newer. "
            f"Install a newer JDK or point JAVA_HOME at one."
        )
    return java


def java_version(java: str) -> int:
    """The feature version of ``java`` (8, 11, 17, 21, ...)."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        ).stderr
    except OSError as exc:
        raise JavaNotFound(f"cannot run {java}: {exc}; install a JDK or set JAVA_HOME") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise JavaNotFound(f"cannot tell the version of {java} from: {out.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def check_ports_free(host: str, ports: Sequence[int], service: str = "the service") -> None:
    """PortInUse if another process listens on (or holds) any of ``ports``."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                raise PortInUse(
                    f"{service} needs {host}:{port}, but another process is using it; stop "
                    f"that process (find it with `ss -ltnp 'sport = :{port}'`) and try again"
                ) from exc


def run_java_tool(
    java: str,
    classpath: Sequence[Path | str],
    main_class: str,
    args: Sequence[str],
    *,
    what: str,
    heap: str = "256m",
    jvm_options: Sequence[str] = (),
    timeout: float = 300.0,
) -> str:
    """Run a one-shot Java program to completion; its output, or ServiceFailed."""
    cp = os.pathsep.join(str(entry) for entry in classpath)
    cmd = [java, f"-Xmx{heap}", *jvm_options, "-cp", cp, main_class, *args]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceFailed(f"{what} did not finish within {timeout:.0f} s") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-20:])
        raise ServiceFailed(f"{what} failed (exit {done.returncode}):\n{tail}")
    return output


# -- processes ---------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (reaping it if it is our child)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def running_pid(service: JvmService) -> int | None:
    """The pid of the running service, or None (a stale pidfile is removed)."""
    try:
        pid = int(service.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if _alive(pid) and service.marker in _cmdline(pid):
        return pid
    service.pidfile.unlink(missing_ok=True)
    return None


def start(service: JvmService) -> tuple[int, bool]:
    """Start the service unless it runs; ``(pid, started_now)``.

    The JVM is launched through ``sh -c '... &'`` in a new session, so it is nobody's
    child here: it outlives this process and is reaped by init when it exits.
    """
    pid = running_pid(service)
    if pid is not None:
        return pid, False
    java = service.java or find_java()
    check_ports_free(service.host, service.ports, service.name)
    service.run_dir.mkdir(parents=True, exist_ok=True)
    with open(service.log_file, "ab") as log:
        log.write(f"--- squall: starting {service.name} at {time.ctime()} ---\n".encode())
    launched = subprocess.run(
        ["sh", "-c", _LAUNCH, "squall-launch", str(service.log_file), *service.command(java)],
        capture_output=True,
        env={**os.environ, **service.env},
        cwd=service.run_dir,
        start_new_session=True,
        check=False,
    )
    try:
        pid = int(launched.stdout.decode().strip())
    except ValueError as exc:
        raise ServiceFailed(
            f"could not launch {service.name}: {launched.stderr.decode().strip()[:500]}"
        ) from exc
    service.pidfile.write_text(f"{pid}\n")
    return pid, True


def wait_healthy(
    service: JvmService,
    pid: int,
    healthy: Callable[[], bool],
    timeout: float,
    what: str = "healthy",
) -> float:
    """Poll ``healthy()`` until true; seconds waited. ServiceFailed if the process dies
    first, ServiceTimeout at the deadline (both quote the end of the service's log)."""
    began = time.monotonic()
    deadline = began + timeout
    while True:
        if healthy():
            return time.monotonic() - began
        if not _alive(pid):
            service.pidfile.unlink(missing_ok=True)
            raise ServiceFailed(
                f"{service.name} exited before it was {what}; the end of "
                f"{service.log_file}:\n{log_tail(service.log_file)}"
            )
        if time.monotonic() >= deadline:
            raise ServiceTimeout(
                f"{service.name} (pid {pid}) was not {what} after {timeout:.0f} s; it is "
                f"still running (stop it with `squall stack down`). The end of "
                f"{service.log_file}:\n{log_tail(service.log_file)}"
            )
        time.sleep(_POLL)


def stop(service: JvmService, timeout: float = 30.0) -> bool:
    """SIGTERM, wait up to ``timeout`` s for a clean exit, then SIGKILL. True if it ran."""
    pid = running_pid(service)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not _wait_gone(pid, 10.0):
            raise ServiceFailed(f"{service.name} (pid {pid}) did not exit even after SIGKILL")
    service.pidfile.unlink(missing_ok=True)
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ("" if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - 64 * 1024, 0))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
