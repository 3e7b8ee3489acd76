"""deploy.compose.engine without an engine: the apt mirror it debootstraps from, and
that ``stop`` never touches a process it did not start."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from squall.deploy.compose import engine
from squall.deploy.exceptions import ComposeUnavailable

DEB822 = """Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def _root(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "etc/apt/sources.list.d"
    folder.mkdir(parents=True)
    (folder / name).write_text(text)
    return tmp_path


def test_the_mirror_comes_from_apt_deb822_sources(tmp_path: Path) -> None:
    root = _root(tmp_path, "debian.sources", DEB822)
    assert engine.apt_mirror(root) == "http://mirror.example/debian"


def test_the_mirror_comes_from_a_one_line_sources_list(tmp_path: Path) -> None:
    root = _root(tmp_path, "x.list", "deb [arch=amd64] http://m.example/debian bookworm main\n")
    assert engine.apt_mirror(root) == "http://m.example/debian"


def test_no_bookworm_mirror_says_what_to_do(tmp_path: Path) -> None:
    root = _root(tmp_path, "x.list", "deb http://m.example/ubuntu jammy main\n")
    with pytest.raises(ComposeUnavailable, match="pull or load that image"):
        engine.apt_mirror(root)


def test_stop_leaves_a_process_that_is_not_its_dockerd_alone(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "dockerd.pid").write_text(f"{other.pid}\n")
        assert engine.stop(tmp_path) is False
        assert other.poll() is None  # still running
        assert not (tmp_path / "dockerd.pid").exists()
    finally:
        other.kill()
        other.wait()


def test_stop_without_a_pid_file_does_nothing(tmp_path: Path) -> None:
    assert engine.stop(tmp_path) is False
