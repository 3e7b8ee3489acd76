import subprocess
import sys

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


def test_common_flags_work_before_and_after_the_command() -> None:
    before = build_parser().parse_args(["--data-dir", "a", "serve"])
    after = build_parser().parse_args(["serve", "--data-dir", "a", "-v"])
    assert before.data_dir == after.data_dir == "a"
    assert (before.verbose, after.verbose) == (False, True)
    nested = build_parser().parse_args(
        ["topology", "run", "log-metrics", "--broker", "kafka://h:1"]
    )
    assert nested.broker == "kafka://h:1"
