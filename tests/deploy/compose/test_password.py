"""``squall compose``'s metadata store password in deploy/.env: written once, when none
is set, never over one a user chose."""

from __future__ import annotations

import stat
from pathlib import Path

from squall.deploy.compose import password


def _value(env_file: Path) -> str:
    lines = [line for line in env_file.read_text().splitlines() if line.startswith("POSTGRES_")]
    assert len(lines) == 1, lines
    return lines[0].split("=", 1)[1]


def test_a_missing_password_is_written_once_into_a_private_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    assert password.ensure(env_file, {})
    first = _value(env_file)
    assert len(first) >= 24
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert not password.ensure(env_file, {})  # kept: the database already uses it
    assert _value(env_file) == first


def test_an_empty_line_as_in_env_example_is_filled_in_and_the_rest_kept(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SQUALL_SERVE_PORT=8201\nPOSTGRES_PASSWORD=\nSQUALL_DEMO_RATE=5")
    assert password.ensure(env_file, {})
    text = env_file.read_text()
    assert text.startswith("SQUALL_SERVE_PORT=8201\nPOSTGRES_PASSWORD=")
    assert text.endswith("\nSQUALL_DEMO_RATE=5")
    assert _value(env_file)


def test_a_password_the_user_set_is_left_alone(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD='chosen'\n")
    assert not password.ensure(env_file, {})
    assert env_file.read_text() == "POSTGRES_PASSWORD='chosen'\n"


def test_the_environment_wins_even_empty(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    assert not password.ensure(env_file, {"POSTGRES_PASSWORD": "from-env"})
    # empty on purpose: the postgres service generates one into its volume
    assert not password.ensure(env_file, {"POSTGRES_PASSWORD": ""})
    assert not env_file.exists()
