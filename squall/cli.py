"""The ``squall`` command: one entry point, subcommands owned by each stage.

Each subcommand's handler lives with its stage (``ingest.cli``, ``compute.cli``,
``serve.cli``, ``deploy.cli``) and is imported only when that subcommand runs, so
``squall --help`` stays fast and a stage's dependencies load only when needed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from squall import __version__
from squall.exceptions import SquallError

__all__ = ["build_parser", "main"]

# subcommand -> "module:function"; the function takes the parsed namespace, returns exit code
_HANDLERS = {
    "demo": "squall.demo:run_demo",
    "collector": "squall.ingest.cli:run_collector",
    "send": "squall.ingest.cli:run_send",
    "topology": "squall.compute.cli:run_topology",
    "serve": "squall.serve.cli:run_serve",
    "status": "squall.serve.cli:run_status",
    "search": "squall.serve.search_cli:run_search",
    "stack": "squall.deploy.cli:run_stack",
    "compose": "squall.deploy.cli:run_compose",
    "init": "squall.deploy.cli:run_init",
}


def _common_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """The flags every command takes, before or after the command's name."""
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default or False, help="log debug messages"
    )
    parser.add_argument(
        "--data-dir",
        default=default,
        help="embedded state directory (SQUALL_DATA_DIR, ./.squall)",
    )
    parser.add_argument(
        "--broker", default=default, help="local://PATH or kafka://HOST:PORT (SQUALL_BROKER)"
    )
    parser.add_argument(
        "--store", default=default, help="duckdb://PATH or druid://HOST:PORT (SQUALL_STORE)"
    )


def _url_pair(value: str) -> tuple[str, str]:
    """``--show``'s COLLECTOR_URL,DASHBOARD_URL."""
    first, comma, second = value.partition(",")
    if not (comma and first.strip() and second.strip()):
        raise argparse.ArgumentTypeError(
            f"{value!r}: give two URLs separated by a comma, the collector's first"
        )
    return first.strip().rstrip("/"), second.strip().rstrip("/")


def _search_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="print lines that contain TEXT (ignoring case)")
    parser.add_argument("--regex", metavar="RE", help="lines matching RE instead of TEXT")
    parser.add_argument(
        "--last",
        default="1h",
        metavar="SPAN",
        help="search the last SPAN up to now: 30s, 15m, 1h, 7d (default 1h)",
    )
    parser.add_argument(
        "--interval",
        metavar="START/END",
        help="search this interval instead, ISO-8601, e.g. 2015-05-17/2015-05-18",
    )
    parser.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="keep events whose DIM (service, method, route, status, status_class) is "
        "VALUE; repeat a DIM for any of several values: -f status_class=5xx -f service=web",
    )
    parser.add_argument(
        "-n",
        "--limit",
        type=int,
        default=100,
        help="print at most N lines, newest first (default 100; 0 for every match)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print each event as a JSON object, one a line"
    )
    parser.add_argument("--url", help="query API (default http://SQUALL_SERVE_HOST:PORT)")
    parser.add_argument("--token", help="bearer token, if the query API requires one")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="squall",
        description="Real-time log analytics: collect -> compute -> apply. "
        "Settings come from SQUALL_* environment variables; flags override them.",
    )
    parser.add_argument("--version", action="version", version=f"squall {__version__}")
    _common_flags(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    _common_flags(common, default=argparse.SUPPRESS)  # also after the subcommand

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    demo = command("demo", help="run the whole pipeline (embedded by default)")
    demo.add_argument("--replay", metavar="FILE", help="send this log file through the pipeline")
    demo.add_argument(
        "--generate",
        metavar="RATE",
        type=float,
        help="generate live traffic, events per second (after --replay, if both)",
    )
    demo.add_argument(
        "--external",
        action="store_true",
        help="feed the collector and query API the settings name (a running stack, e.g. "
        "the compose one) instead of starting them here",
    )
    demo.add_argument("--service", default="web", help="service name for replayed log lines (web)")
    demo.add_argument(
        "--show",
        type=_url_pair,
        metavar="COLLECTOR_URL,DASHBOARD_URL",
        help="the addresses to print for users, when they reach the collector and the "
        "dashboard elsewhere than the demo does (compose: the ports published on the host)",
    )

    collector = command("collector", help="run the HTTP log collector alone")
    collector.add_argument(
        "--config", metavar="FILE", help="agent config, TOML or JSON (SQUALL_COLLECTOR_CONFIG)"
    )
    collector.add_argument("--host", help="listen address (SQUALL_COLLECTOR_HOST, 127.0.0.1)")
    collector.add_argument("--port", type=int, help="listen port (SQUALL_COLLECTOR_PORT, 8100)")
    collector.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes sharing the port (SQUALL_COLLECTOR_WORKERS, 1); each has its "
        "own channel segment (a file channel: DIR/worker-<i>, replayed by worker i after a "
        "crash, so keep N unchanged until a channel is drained); /metrics sums all workers, "
        "/healthz answers for one. About one core each: give the number of cores to spare",
    )

    send = command("send", help="ship a log file to the collector")
    send.add_argument("file", metavar="FILE", help="log file to send ('-' for standard input)")
    send.add_argument("--service", help="service name attached to every line")
    send.add_argument("--url", help="collector URL (default http://127.0.0.1:8100)")
    send.add_argument("--batch", type=int, default=1000, help="lines per request (1000)")
    send.add_argument("--token", help="bearer token, if the collector requires one")
    send.add_argument("--gzip", action="store_true", help="compress each request")

    topology = command("topology", help="run a compute topology")
    tsub = topology.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = tsub.add_parser("run", parents=[common], help="run a standard topology")
    run.add_argument("name", choices=["log-metrics"], help="topology to run")
    run.add_argument("--workers", type=int, default=1, help="worker processes (1)")

    command("serve", help="run the query API and dashboard")
    command("status", help="print the workers' metrics, consumer lag and the collector's rates")

    search = command(
        "search",
        help="print stored log lines, newest first (the query API's /api/v1/search)",
        description="Print the raw log lines the pipeline stored, newest first, as they "
        "were sent. Examples: squall search timeout --last 15m -f status_class=5xx; "
        "squall search --interval 2015-05-17/2015-05-18 --regex 'GET /images/.*png' -n 0",
    )
    _search_flags(search)

    stack = command("stack", help="real Kafka / Druid / ZooKeeper from Maven Central jars")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.add_argument("service", nargs="?", choices=["kafka", "druid"], help="default: all")

    compose = command("compose", help="the docker compose stack")
    compose.add_argument("action", choices=["build", "up", "down", "status", "logs"])
    compose.add_argument(
        "--profile", action="append", default=[], help="compose profile to enable (cluster)"
    )
    compose.add_argument("--scale", metavar="N", type=int, help="topology replicas (up)")
    compose.add_argument("--volumes", action="store_true", help="down: delete the volumes too")
    compose.add_argument("service", nargs="*", help="services (logs, up); default: all")

    command(
        "init",
        help="create the topics and, with a Druid store, submit its Kafka supervisor "
        "(the compose stack's init job)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per request
    logging.getLogger("kafka").setLevel(logging.WARNING)  # no lines per connection and join
    module_name, _, func_name = _HANDLERS[args.command].partition(":")
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
    except ModuleNotFoundError as exc:  # a dependency, not the command, is missing
        print(
            f"squall {args.command}: the Python package {exc.name!r} is missing; "
            f"install Squall with its dependencies (`make install`, or `pip install -e .`)",
            file=sys.stderr,
        )
        return 2
    try:
        return int(handler(args) or 0)
    except SquallError as exc:
        print(f"squall {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
