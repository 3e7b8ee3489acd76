import subprocess
import sys

import pytest

from squall import cli
from squall.cli import build_parser


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "squall", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("demo", "collector", "topology", "serve", "send", "stack", "compose"):
        assert command in out


def test_flags_parse() -> None:
    args = build_parser().parse_args(["topology", "run", "log-metrics", "--workers", "3"])
    assert (args.command, args.name, args.workers) == ("topology", "log-metrics", 3)


def test_the_demo_shows_the_addresses_users_open_and_refuses_a_half_pair(
    capsys: pytest.CaptureFixture[str],
) -> None:
    show = "http://127.0.0.1:8100/, http://127.0.0.1:8200"
    args = build_parser().parse_args(["demo", "--external", "--show", show])
    assert args.show == ("http://127.0.0.1:8100", "http://127.0.0.1:8200")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--show", "http://127.0.0.1:8100"])
    assert "two URLs separated by a comma" in capsys.readouterr().err


def test_common_flags_work_before_and_after_the_command() -> None:
    before = build_parser().parse_args(["--data-dir", "a", "serve"])
    after = build_parser().parse_args(["serve", "--data-dir", "a", "-v"])
    assert before.data_dir == after.data_dir == "a"
    assert (before.verbose, after.verbose) == (False, True)
    nested = build_parser().parse_args(
        ["topology", "run", "log-metrics", "--broker", "kafka://h:1"]
    )
    assert nested.broker == "kafka://h:1"


def test_a_missing_dependency_is_named_not_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command whose module cannot import a package says which one, and how to fix it."""
    monkeypatch.setitem(cli._HANDLERS, "serve", "squall_test_no_such_package.cli:run")
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "'squall_test_no_such_package' is missing" in err
    assert "make install" in err
