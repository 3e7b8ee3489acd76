"""``squall topology run NAME [--workers N]``."""

from __future__ import annotations

import argparse

from compute.runner import Supervisor, run_worker, worker_command
from squall.broker import open_broker
from squall.settings import load_settings
from squall.topics import ensure_topics

__all__ = ["run_topology"]


def run_topology(args: argparse.Namespace) -> int:
    from compute.topologies.log_metrics.topology import CONFIG, build_topology

    if args.workers < 1:
        print("--workers must be at least 1")
        return 2
    settings = load_settings(
        overrides={"data_dir": args.data_dir, "broker": args.broker, "store": args.store}
    )
    with open_broker(settings.broker_url) as broker:
        ensure_topics(broker, settings)
    if args.workers > 1:
        return Supervisor(worker_command(args.name), args.workers).run()
    return run_worker(build_topology(settings), CONFIG)
