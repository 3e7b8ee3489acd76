"""Resolve a pom's runtime classpath from Maven Central into a directory, once.

The project ships one small pom per service (``deploy/stack/poms/<service>/pom.xml``);
``resolve`` runs ``mvn dependency:copy-dependencies`` on it and keeps the jars in a
directory stamped with the pom's hash, so a second ``squall stack up`` starts without
Maven, and editing the pom (e.g. a version bump) resolves again. Each service gets its
own directory: Kafka's and Druid's classpaths must never mix (their kafka-clients, slf4j
and jackson versions differ).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from squall.deploy.exceptions import DependencyResolutionFailed, MavenNotFound

__all__ = ["find_maven", "is_resolved", "jars", "resolve"]

_STAMP = ".squall-resolved"


def find_maven() -> str:
    """The ``mvn`` program; MavenNotFound if it is not on PATH."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenNotFound(
            "Maven (mvn) is not on PATH; it fetches the service's jars from Maven Central. "
            "Install it (e.g. `apt-get install maven`) and run the command again."
        )
    return mvn


def _pom_hash(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def is_resolved(pom: Path, lib_dir: Path) -> bool:
    """True when ``lib_dir`` holds the jars of exactly this version of ``pom``."""
    stamp = lib_dir / _STAMP
    return stamp.is_file() and stamp.read_text().strip() == _pom_hash(pom)


def jars(lib_dir: Path) -> list[Path]:
    """The jars in ``lib_dir``, sorted by name (a stable classpath order)."""
    return sorted(lib_dir.glob("*.jar"))


def resolve(
    pom: Path,
    lib_dir: Path,
    *,
    maven_repo: Path | None = None,
    offline: bool = False,
    timeout: float = 1800.0,
) -> Path:
    """Copy ``pom``'s runtime dependencies into ``lib_dir`` unless already there.

    ``maven_repo`` overrides Maven's local repository (``~/.m2/repository``);
    ``offline`` forbids downloads. The jars land in a temporary sibling directory that
    replaces ``lib_dir`` only once Maven succeeded, under a file lock, so concurrent
    callers and interrupted runs never leave a half-filled classpath. Returns ``lib_dir``.
    """
    pom = pom.resolve()
    lib_dir = lib_dir.resolve()
    if is_resolved(pom, lib_dir):
        return lib_dir
    lib_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(lib_dir.parent / f".{lib_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_resolved(pom, lib_dir):  # another process resolved it while we waited
            return lib_dir
        staging = lib_dir.parent / f".{lib_dir.name}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            _copy_dependencies(pom, staging, maven_repo, offline, timeout)
            if not jars(staging):
                raise DependencyResolutionFailed(
                    f"Maven resolved no jars from {pom}; check the pom's dependencies"
                )
            (staging / _STAMP).write_text(_pom_hash(pom) + "\n")
            shutil.rmtree(lib_dir, ignore_errors=True)
            staging.rename(lib_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return lib_dir


def _copy_dependencies(
    pom: Path, out: Path, maven_repo: Path | None, offline: bool, timeout: float
) -> None:
    cmd = [
        find_maven(),
        "-B",
        "-q",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={out}",
    ]
    if maven_repo is not None:
        cmd.append(f"-Dmaven.repo.local={maven_repo.resolve()}")
    if offline:
        cmd.append("-o")
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise DependencyResolutionFailed(
            f"Maven did not finish resolving {pom} within {timeout:.0f} s; check the network "
            f"to Maven Central and run the command again"
        ) from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        tail = "\n".join(output[-25:])
        raise DependencyResolutionFailed(
            f"Maven could not resolve the jars of {pom} (exit {done.returncode}); "
            f"is Maven Central reachable?\n{tail}"
        )
