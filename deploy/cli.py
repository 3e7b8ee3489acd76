"""``squall stack`` and ``squall compose``: the handlers ``squall.cli`` dispatches to.

``squall stack up|down|status [SERVICE]`` drives the local Maven-jar stack; without a
service, ``up`` starts every service in ``deploy.stack.SERVICES`` in order and
``down`` stops them in reverse order. Each service module is imported only when used,
so a service whose module is not there yet is reported, not fatal to the others.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from types import ModuleType

from squall.deploy.exceptions import StackError, UnknownService
from squall.deploy.stack import SERVICES, ServiceState, StackPaths, paths
from squall.settings import Settings, load_settings

__all__ = ["run_compose", "run_init", "run_stack", "service_module"]


def service_module(name: str) -> ModuleType:
    """The module that runs service ``name`` (``up``, ``down``, ``status``)."""
    if name not in SERVICES:
        raise UnknownService(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
    return importlib.import_module(SERVICES[name])


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        k: getattr(args, k, None) for k in ("data_dir", "broker", "store") if getattr(args, k, None)
    }
    return load_settings(overrides=overrides)


def run_stack(args: argparse.Namespace) -> int:
    """``squall stack ACTION [SERVICE]``; 0 when every asked-for service did its part."""
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python logs each connection
    settings = _settings(args)
    where = paths(settings)
    names = [args.service] if args.service else list(SERVICES)
    if args.action == "down" and not args.service:
        names.reverse()  # dependents first
    code = 0
    for name in names:
        try:
            code = max(code, _run_one(name, args.action, settings, where))
        except StackError as exc:
            if args.service:  # the one asked for: let squall.cli report it
                raise
            print(f"{name}: {args.action} failed: {exc}", file=sys.stderr, flush=True)
            code = 1  # one service's failure does not keep the others from stopping
    return code


def _run_one(name: str, action: str, settings: Settings, where: StackPaths) -> int:
    module = service_module(name)
    if action == "up":
        print(f"{name}: starting (state in {where.service_dir(name)})", flush=True)
    code = 0
    for line, ok in _lines(getattr(module, action)(settings)):
        print(line, flush=True)
        if action == "up" and not ok:
            code = 1
    return code


def _lines(report: object) -> list[tuple[str, bool]]:
    """A service's report as printable lines, each with "healthy or not a state"."""
    if isinstance(report, ServiceState):
        return [(report.describe(), report.healthy)]
    if isinstance(report, list | tuple):
        return [line for item in report for line in _lines(item)]
    return [(str(report), True)]


def run_init(args: argparse.Namespace) -> int:
    """``squall init``: the topics on the broker, then (store ``druid://HOST:PORT``, a
    router or overlord) the Kafka supervisor of the metrics datasource. Idempotent."""
    from squall.broker import ensure_topics, open_broker
    from squall.deploy.stack import druid

    settings = _settings(args)
    with open_broker(settings.broker_url) as broker:
        ensure_topics(broker, settings)
    print(f"topics ready on {settings.broker_url}", flush=True)
    scheme, _, rest = settings.store_url.partition("://")
    if scheme == "druid":
        answer = druid.submit_supervisor(settings, timeout=600, overlord_url=f"http://{rest}")
        print(f"Druid supervisor submitted: {answer}", flush=True)
        if settings.events:
            answer = druid.submit_events_supervisor(
                settings, timeout=600, overlord_url=f"http://{rest}"
            )
            print(f"Druid events supervisor submitted: {answer}", flush=True)
    return 0


def run_compose(args: argparse.Namespace) -> int:
    """``squall compose ACTION``: see ``deploy.compose.project``."""
    from squall.deploy.compose.project import run

    return run(args)
