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
