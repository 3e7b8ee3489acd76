"""Resolve a pom's runtime classpath from Maven Central into a directory, once.

The project ships one small pom per service (``deploy/stack/poms/<service>/pom.xml``);
``resolve`` runs ``mvn dependency:copy-dependencies`` on it and keeps the jars in a
directory stamped with the pom's hash, so a second ``squall stack up`` starts without
Maven, and editing the pom (e.g. a version bump) resolves again. Each service gets its
own directory: Kafka's and Druid's classpaths must never mix (their kafka-clients, slf4j
and jackson versions differ).

``build`` does the same for a Maven project of Squall's own (Squall's Druid extension,
deploy/druid/): ``mvn package`` plus its runtime dependencies into one directory, stamped
with the hash of the pom and its sources, the build's scratch files outside the source tree.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from squall.deploy.exceptions import DependencyResolutionFailed, MavenNotFound

__all__ = ["build", "find_maven", "is_built", "is_resolved", "jars", "resolve"]

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


def _project_hash(project: Path) -> str:
    """The pom and every file under ``src/``: what a build's output depends on."""
    digest = hashlib.sha256()
    for path in [project / "pom.xml", *sorted((project / "src").rglob("*"))]:
        if path.is_file():
            digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _stamped(lib_dir: Path, digest: str) -> bool:
    stamp = lib_dir / _STAMP
    return stamp.is_file() and stamp.read_text().strip() == digest


def is_resolved(pom: Path, lib_dir: Path) -> bool:
    """True when ``lib_dir`` holds the jars of exactly this version of ``pom``."""
    return _stamped(lib_dir, _pom_hash(pom))


def is_built(project: Path, lib_dir: Path) -> bool:
    """True when ``lib_dir`` holds the build of exactly these sources of ``project``."""
    return _stamped(lib_dir, _project_hash(project))


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

    def fill(staging: Path) -> None:
        _copy_dependencies(pom, staging, maven_repo, offline, timeout)

    return _materialize(lib_dir, _pom_hash(pom), str(pom), fill)


def build(
    project: Path,
    lib_dir: Path,
    *,
    maven_repo: Path | None = None,
    offline: bool = False,
    timeout: float = 1800.0,
) -> Path:
    """Build the Maven ``project`` (a directory with pom.xml and src/) into ``lib_dir``:
    its jar and its runtime dependencies, unless these sources are already built there.
    Same options and guarantees as ``resolve``; Maven's scratch files stay in a temporary
    directory, never in the source tree. Returns ``lib_dir``."""
    project = project.resolve()

    def fill(staging: Path) -> None:
        scratch = staging.parent / f"{staging.name}.target"
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            _copy_dependencies(
                project / "pom.xml",
                staging,
                maven_repo,
                offline,
                timeout,
                goals=("package",),
                extra=(f"-Dsquall.build={scratch}",),
            )
            built = sorted(scratch.glob("*.jar"))
            if not built:
                raise DependencyResolutionFailed(
                    f"Maven built no jar from {project}; check its pom.xml (packaging jar)"
                )
            for jar in built:
                shutil.copy2(jar, staging / jar.name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return _materialize(lib_dir, _project_hash(project), str(project), fill)


def _materialize(lib_dir: Path, digest: str, source: str, fill: Callable[[Path], None]) -> Path:
    """``lib_dir`` holds what ``fill`` puts in a staging directory, stamped ``digest``."""
    lib_dir = lib_dir.resolve()
    if _stamped(lib_dir, digest):
        return lib_dir
    lib_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(lib_dir.parent / f".{lib_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stamped(lib_dir, digest):  # another process made it while we waited
            return lib_dir
        staging = lib_dir.parent / f".{lib_dir.name}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            fill(staging)
            if not jars(staging):
                raise DependencyResolutionFailed(
                    f"Maven resolved no jars from {source}; check the pom's dependencies"
                )
            (staging / _STAMP).write_text(digest + "\n")
            shutil.rmtree(lib_dir, ignore_errors=True)
            staging.rename(lib_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return lib_dir


def _copy_dependencies(
    pom: Path,
    out: Path,
    maven_repo: Path | None,
    offline: bool,
    timeout: float,
    *,
    goals: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> None:
    cmd = [
        find_maven(),
        "-B",
        "-q",
        "-f",
        str(pom),
        *goals,
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={out}",
        *extra,
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
        what = "build" if goals else "resolve the jars of"
        raise DependencyResolutionFailed(
            f"Maven could not {what} {pom} (exit {done.returncode}); is Maven Central "
            f"reachable{', and does the code compile' if goals else ''}? Its output:\n{tail}"
        )
