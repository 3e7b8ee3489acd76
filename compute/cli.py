"""``squall topology run NAME [--workers N]``."""

from __future__ import annotations

import argparse
import os

from squall.broker import ensure_topics, open_broker
from squall.compute.reporting import MetricsReporter
from squall.compute.runner import WORKER_INDEX_ENV, WorkerSupervisor, run_worker, worker_command
from squall.settings import load_settings

__all__ = ["run_topology"]


def run_topology(args: argparse.Namespace) -> int:
    from squall.compute.topologies.log_metrics.topology import CONFIG, NAME, build_topology

    if args.workers < 1:
        print("--workers must be at least 1")
        return 2
    settings = load_settings(
        overrides={"data_dir": args.data_dir, "broker": args.broker, "store": args.store}
    )
    with open_broker(settings.broker_url) as broker:
        ensure_topics(broker, settings)
    if args.workers > 1:
        return WorkerSupervisor(worker_command(args.name), args.workers).run()
    # a worker process of `--workers N` learns its place from its supervisor
    index = int(os.environ.get(WORKER_INDEX_ENV, "0"))
    # its metrics go to the workers topic every few seconds, for `squall status`
    with open_broker(settings.broker_url) as broker:
        producer = broker.producer()
        try:
            reporter = MetricsReporter(producer, settings.topic_workers, NAME, index)
            topology = build_topology(settings)
            return run_worker(topology, CONFIG, worker_index=index, reporter=reporter)
        finally:
            producer.close()
