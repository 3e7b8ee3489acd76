"""A plain ``docker compose build`` from a fresh clone: no ``deploy/.context``, so each
image's ``resolve`` stage runs deploy/compose/context.py inside the build, from PyPI and
Maven Central, as users whose builds reach the registries get it.

Here builds reach them through a proxy that inspects TLS: as the README tells users
behind one, the host's own extra CA certificates (Debian keeps them in
/usr/local/share/ca-certificates) go into the clone's deploy/certs/ first. The images are
checked against what the host resolves for the offline path: the same jars, the same
generated configuration, a Squall that runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.deploy.compose import context, engine
from squall.deploy.stack import paths
from squall.settings import load_settings

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1500)]

# another prefix lets two checkouts run this test on one engine at once
PREFIX = os.environ.get("SQUALL_TEST_ONLINE_PREFIX", "squall-online-test")
HOST_CAS = Path("/usr/local/share/ca-certificates")


def _need(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {what}")
    pytest.skip(what)


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def _files(image: str, directory: str) -> dict[str, str]:
    """name -> sha256 of the files in ``directory`` of ``image``."""
    script = f"cd {directory} && find . -type f -exec sha256sum {{}} +"
    out = _run(["docker", "run", "--rm", "--entrypoint", "sh", image, "-c", script])
    return {line.split()[1].lstrip("./"): line.split()[0] for line in out.splitlines()}


def _host_files(directory: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in directory.rglob("*")
        # deploy/ holds the Dockerfile and certs prepare copies in for the build itself
        if p.is_file()
        and not p.name.startswith(".")
        and p.relative_to(directory).parts[0] != "deploy"
    }


@pytest.fixture(scope="module")
def online_images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not engine.engine_running() or shutil.which("docker") is None:
        _need("no Docker engine answers `docker info` (as root: make engine-up)")
    clone = tmp_path_factory.mktemp("fresh") / "squall"
    _run(["git", "clone", "--quiet", str(context.ROOT), str(clone)])
    for ca in HOST_CAS.glob("*.crt"):
        shutil.copy(ca, clone / "deploy" / "certs" / ca.name)
    images = {
        "squall": f"{PREFIX}/squall:0.1.0",
        "kafka": f"{PREFIX}/kafka:4.4.0",
        "druid": f"{PREFIX}/druid:33.0.0",
        "postgres": f"{PREFIX}/postgres:15",
    }
    env = {**os.environ, "SQUALL_IMAGE_PREFIX": PREFIX, "COMPOSE_PROFILES": ""}
    try:
        assert not (clone / "deploy" / ".context").exists()
        _run(["docker", "compose", "build", "--quiet"], cwd=clone / "deploy", env=env)
        yield images
    finally:
        subprocess.run(["docker", "rmi", "--force", *images.values()], capture_output=True)


def test_the_postgres_image_runs_debians_postgresql_as_its_own_user(
    online_images: dict[str, str],
) -> None:
    script = "id -un; for p in postgres pg_isready squall-postgres; do command -v $p; done"
    out = _run(
        ["docker", "run", "--rm", "--entrypoint", "sh", online_images["postgres"], "-c", script]
    )
    user, *programs = out.split()
    assert user == "postgres"
    assert len(programs) == 3


def test_jars_and_configuration_equal_what_the_host_resolves(
    online_images: dict[str, str],
) -> None:
    context.prepare(paths(load_settings()), ("kafka", "druid"))
    for image, home in (("kafka", "/opt/kafka"), ("druid", "/opt/druid")):
        host = _host_files(context.context_dir(image))
        built = _files(online_images[image], home)
        assert built == host, f"{image}: {sorted(set(built) ^ set(host))[:10]}"


def test_squall_runs_from_the_online_image(online_images: dict[str, str]) -> None:
    out = _run(["docker", "run", "--rm", online_images["squall"], "--help"])
    for command in ("collector", "topology", "serve", "demo", "init"):
        assert command in out
    script = "import importlib.metadata as m; print(m.version('squall'))"
    version = _run(["docker", "run", "--rm", "--entrypoint", "python3", online_images["squall"],
                    "-c", script])  # fmt: skip
    assert version.strip() == "0.1.0"
