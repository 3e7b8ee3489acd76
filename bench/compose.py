"""The compose stack on a Docker engine: build, up to healthy, freshness, memory.

1. ``squall compose build`` as it stands (the layer cache warm or not: say which by
   running it twice), then ``up`` of every service but ``demo`` until all are healthy;
2. freshness as bench.pipeline measures it, through the published ports: a load client
   posts JSON events at ``--rate`` events/s in 100 ms batches plus one probe event with
   a unique service per batch; freshness is the time from the collector's 200 to the
   probe's row in the query API's answer (on Druid, through the router); first for
   ``--warm-up`` seconds right after up (the JVMs still compiling: reported apart), then
   for ``--seconds``, warm;
3. each container's memory (``docker stats``) against its limit.

The stack runs as project ``squall-bench`` on the ports of ``--collector-port`` etc.
(clear of the local stack's), and is taken down with its volumes after, unless
``--keep``. Needs a Docker engine (``make engine-up``).
"""

from __future__ import annotations

import argparse
import os
import time

import httpx

from bench.common import machine
from bench.pipeline import _freshness_run


def _warm_up(collector_port: int, serve_port: int, timeout: float = 300.0) -> None:
    """One event through the whole stack before timing: Druid's first ingestion task
    starts with the first rows, which is start-up, not freshness."""
    event = b'{"ts": "2026-01-01T00:00:00Z", "service": "warm-up", "path": "/", "status": 200}'
    query = {
        "queryType": "timeseries",
        "interval": "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z",
        "metrics": ["events"],
        "filter": {"service": "warm-up"},
    }
    began = time.monotonic()
    with httpx.Client(timeout=10) as client:
        r = client.post(
            f"http://127.0.0.1:{collector_port}/v1/logs",
            content=event,
            headers={"content-type": "application/x-ndjson"},
        )
        r.raise_for_status()
        while time.monotonic() - began < timeout:
            r = client.post(f"http://127.0.0.1:{serve_port}/api/v1/query", json=query)
            if r.status_code == 200 and r.json()["rows"]:
                print(f"   first event visible {time.monotonic() - began:.1f}s after up")
                return
            time.sleep(0.2)
    print("   the warm-up event never became visible")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5_000)
    parser.add_argument("--seconds", type=float, default=60, help="measured, after the warm-up")
    parser.add_argument(
        "--warm-up", type=float, default=60, help="seconds of load before (0: none)"
    )
    parser.add_argument("--collector-port", type=int, default=18100)
    parser.add_argument("--serve-port", type=int, default=18200)
    parser.add_argument("--console-port", type=int, default=18888)
    parser.add_argument("--scale", type=int, help="topology replicas (1)")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args(argv)
    print("== compose: image builds, up to healthy, freshness through the stack, memory")
    print(f"   machine: {machine()}")
    from squall.deploy.compose import engine, project

    if not engine.engine_running():
        print("   no Docker engine: start one with `make engine-up` first")
        return
    os.environ.update(
        SQUALL_COLLECTOR_PORT=str(args.collector_port),
        SQUALL_SERVE_PORT=str(args.serve_port),
        DRUID_CONSOLE_PORT=str(args.console_port),
    )
    docker = project.client(project_name="squall-bench")
    try:
        print(f"   build (contexts + images): {project.build(docker):.1f}s")
        print(f"   build again, nothing changed: {project.build(docker):.1f}s")
        took = project.up(docker, scale=args.scale)
        print(f"   up, {len(project.status(docker))} containers healthy: {took:.1f}s")
        _warm_up(args.collector_port, args.serve_port)
        urls = {
            "collector": f"http://127.0.0.1:{args.collector_port}",
            "api": f"http://127.0.0.1:{args.serve_port}",
        }
        if args.warm_up > 0:
            print(f"   the first {args.warm_up:.0f}s of load after up (JVMs still compiling):")
            _freshness_run(None, args.rate, args.warm_up, **urls)
            print("   then, warm:")
        _freshness_run(None, args.rate, args.seconds, **urls)
        for stats in docker.stats():
            used = stats.memory_used / 2**20
            limit = stats.memory_limit / 2**20
            print(f"      {stats.container_name:<28} {used:7.0f} MiB of {limit:5.0f} MiB")
    finally:
        if not args.keep:
            docker.compose.down(volumes=True, remove_orphans=True, quiet=True)


if __name__ == "__main__":
    main()
