"""`make chaos`: kill -9 and restart the pipeline's parts at random while a client sends
a known set of events; then every event that got a 200 must be counted exactly once.

One run, from ``--seed``:

1. the event set (``squall.traffic.generate_events``) and the fault schedule (which part,
   when, how long it stays down) are drawn from the seed and printed;
2. the pipeline starts as processes: on ``--stack embedded`` the collector, the
   topology (a supervisor with two workers) and serve (loader + query API) on the
   embedded log and DuckDB; on ``--stack local`` the same parts on the local stack's
   Kafka, with Druid (topics, consumer groups and datasource of the run's own) as store;
   on ``--stack compose`` deploy/docker-compose.yml's default profile (project
   ``squall-chaos``, built and started here; ``make engine-up`` starts an engine), whose
   collector, topology, serve, Kafka and Druid indexer and historical are the parts; on
   ``--stack cluster`` its ``cluster`` profile, whose parts are the collector, a topology
   replica, serve, two of the three Kafka brokers, the indexer and a historical;
3. a client thread posts the events in batches to the collector (Flume JSON, each event
   with an ``id`` header of its own, so a retried batch is the same events), retrying
   each batch on 503 (after ``Retry-After``) and on connection errors and timeouts, as
   a real client does, until it gets a 200;
4. meanwhile the faults run in order: kill -9 of the part, down for the drawn time, then
   restarted (a compute worker is restarted by its supervisor; Kafka and the Druid
   services by ``deploy.stack``; a container by ``docker compose start``); each fault's
   recovery (restart to healthy) is printed;
5. when the client is done: barriers (one marker event per service, so one behind every
   partition in use) until the store counts exactly the events that got a 200 plus the
   markers, twice in a row, and then the full aggregates (minute x service x method x
   route x status: events, errors, bytes, latency min/max/avg) are compared with ground
   truth computed here from the events that got a 200.

A failing run prints its seed; ``--seed N`` replays the same events and schedule.
``--seeds A,B,C`` runs several; ``--stack embedded,local`` both stacks (the default).
The local stack is the one of ``squall stack up`` (``SQUALL_STACK_DIR`` says where it
keeps its pidfiles, when it was started from another directory); every service of it
runs again at the end of a run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from squall.compute.topologies.log_metrics.route import template_route
from squall.processes import ProcessGroup, child_env
from squall.settings import Settings, load_settings
from squall.traffic import generate_events, ndjson

EMBEDDED_PARTS = ("collector", "worker", "serve")
LOCAL_PARTS = ("collector", "worker", "serve", "kafka", "druid-indexer", "druid-historical")
COMPOSE_PARTS = ("collector", "topology", "serve", "kafka", "indexer", "historical")
CLUSTER_PARTS = ("collector", "topology-2", "serve", "kafka", "kafka-2", "indexer", "historical-2")
"""Two of the three brokers: their downtimes may overlap, leaving one broker, below
min.insync.replicas 2 and the controller quorum, until one is back."""
PARTS = {
    "embedded": EMBEDDED_PARTS,
    "local": LOCAL_PARTS,
    "compose": COMPOSE_PARTS,
    "cluster": CLUSTER_PARTS,
}
COMPOSE_PROJECT = "squall-chaos"
SERVICES = ("web", "api", "auth", "search")
DAY = "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z"
METRICS = ["events", "errors", "bytes", "latency_min", "latency_max", "latency_avg"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_for(condition: Callable[[], bool], timeout: float, what: Callable[[], str]) -> float:
    """Poll ``condition`` until true; seconds waited. AssertionError at ``timeout``."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what()}")
        time.sleep(0.2)
    return time.monotonic() - began


# -- the schedule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """Kill ``part`` ``at`` seconds after the load starts; restart it ``down`` s later."""

    at: float
    part: str
    down: float

    def __str__(self) -> str:
        down = "restarted by its supervisor" if self.part == "worker" else f"down {self.down:.1f} s"
        return f"t+{self.at:5.1f} s  kill -9 {self.part:<16} {down}"


def draw_schedule(
    seed: int, faults: int, parts: tuple[str, ...], span: float, max_down: float
) -> list[Fault]:
    """``faults`` faults over ``span`` seconds: parts in a random order (each part once
    before any twice), random times, random downtimes up to ``max_down``."""
    rng = random.Random(f"chaos-schedule-{seed}")
    order: list[str] = []
    while len(order) < faults:
        rnd = list(parts)
        rng.shuffle(rnd)
        order.extend(rnd)
    times = sorted(rng.uniform(0.05 * span, 0.9 * span) for _ in range(faults))
    return [
        # a compute worker is restarted by its supervisor, as soon as it sees it gone
        Fault(round(t, 1), part, 0.0 if part == "worker" else round(rng.uniform(0.2, max_down), 1))
        for t, part in zip(times, order[:faults], strict=True)
    ]


# -- the client -----------------------------------------------------------------------------


def draw_events(seed: int, count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return list(generate_events(count=count, seed=seed, start=start, rate=100.0))


@dataclass
class LoadClient:
    """Posts ``events`` in batches of ``batch`` at about ``rate`` events/s of wall time,
    retrying each batch on 503 and on connection errors until it gets a 200."""

    url: str
    events: list[dict[str, Any]]
    run_id: str
    batch: int = 200
    rate: float = 1000.0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    error: BaseException | None = None

    def body(self, first: int) -> bytes:
        chunk = self.events[first : first + self.batch]
        return orjson.dumps(
            [
                {"headers": {"id": f"{self.run_id}-{first + i}"}, "body": orjson.dumps(e).decode()}
                for i, e in enumerate(chunk)
            ]
        )

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the run
            self.error = exc

    def _run(self) -> None:
        began = time.monotonic()
        with httpx.Client(timeout=10.0) as http:
            for first in range(0, len(self.events), self.batch):
                due = began + first / self.rate
                time.sleep(max(0.0, due - time.monotonic()))  # pacing, not synchronisation
                body = self.body(first)
                while True:
                    try:
                        r = http.post(
                            f"{self.url}/events",
                            content=body,
                            headers={"content-type": "application/json"},
                        )
                    except httpx.TransportError as exc:
                        name = type(exc).__name__
                        self.errors[name] = self.errors.get(name, 0) + 1
                        self.retries += 1
                        time.sleep(0.2)
                        continue
                    if r.status_code == 200:
                        self.accepted.extend(self.events[first : first + self.batch])
                        break
                    if r.status_code == 503:
                        self.errors["503"] = self.errors.get("503", 0) + 1
                        self.retries += 1
                        time.sleep(min(float(r.headers.get("retry-after", "1") or 1), 2.0))
                        continue
                    self.refused.append((r.status_code, r.text[:200]))
                    break


# -- ground truth -------------------------------------------------------------------------


def _minute(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00")


Key = tuple[str, str, str, str, str]


def ground_truth(events: list[dict[str, Any]]) -> dict[Key, list[Any]]:
    """Per (minute, service, method, route, status): events, errors, bytes, latency
    min, max and sum."""
    out: dict[Key, list[Any]] = {}
    for e in events:
        key = (
            _minute(str(e["ts"])),
            str(e["service"]),
            str(e["method"]),
            template_route(str(e["path"])),
            str(e["status"]),
        )
        cell = out.setdefault(key, [0, 0, 0, float("inf"), float("-inf"), 0.0])
        cell[0] += 1
        cell[1] += 1 if int(e["status"]) >= 500 else 0
        cell[2] += int(e["bytes"])
        cell[3] = min(cell[3], e["latency_ms"])
        cell[4] = max(cell[4], e["latency_ms"])
        cell[5] += e["latency_ms"]
    return out


def compare(truth: dict[Key, list[Any]], rows: list[dict[str, Any]]) -> list[str]:
    """What differs between ground truth and the store's rows ([] when equal)."""
    got: dict[Key, list[Any]] = {}
    problems: list[str] = []
    for r in rows:
        key = (r["timestamp"][:19], r["service"], r["method"], r["route"], r["status"])
        if key in got:
            problems.append(f"row {key} twice")
        got[key] = [r[m] for m in METRICS]
    for key in sorted(set(truth) | set(got)):
        want, have = truth.get(key), got.get(key)
        if want is None:
            problems.append(f"{key}: not sent, stored {have}")
        elif have is None:
            problems.append(f"{key}: sent {want[:3]}, not stored")
        else:
            events, errors, nbytes, lo, hi, total = want
            exact = [events, errors, nbytes, lo, hi]
            avg = total / events
            if have[:5] != exact or abs(have[5] - avg) > 1e-6 * max(1.0, abs(avg)):
                problems.append(f"{key}: sent {[*exact, avg]}, stored {have}")
    return problems


# -- the stacks -----------------------------------------------------------------------------


class Stack:
    """The pipeline's parts as processes, with kill -9 and restart of each."""

    parts: tuple[str, ...] = ()

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.collector_port = _free_port()
        self.serve_port = _free_port()
        self.collector = f"http://127.0.0.1:{self.collector_port}"
        self.serve = f"http://127.0.0.1:{self.serve_port}"
        self.group: ProcessGroup | None = None
        self.http = httpx.Client(timeout=30.0)

    def env(self) -> dict[str, str]:
        return {
            "data_dir": str(self.data_dir),
            "collector_port": str(self.collector_port),
            "serve_port": str(self.serve_port),
            "events_retention_days": "0",
        }

    def start(self) -> None:
        self.group = ProcessGroup(child_env(**self.env()), self.data_dir / "logs")
        for part in ("collector", "serve"):
            self._start_part(part)
        self.group.start("topology", "topology", "run", "log-metrics", "--workers", "2")
        wait_for(lambda: len(self._workers()) == 2, 60, lambda: "two compute workers")

    def _start_part(self, part: str) -> None:
        """Start ``part`` and wait for its health check (faults run in threads of their
        own, so this watches only its part, never the group's other members)."""
        assert self.group is not None
        self.group.start(part)
        proc = self.group.procs[part]
        url = f"{self.collector if part == 'collector' else self.serve}/healthz"

        def healthy() -> bool:
            assert proc.poll() is None, f"{part} exited; see {self.data_dir / 'logs'}"
            try:
                return httpx.get(url, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 120, lambda: f"{part} to answer {url}")

    def _workers(self) -> list[int]:
        assert self.group is not None
        pid = self.group.pid("topology")
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return sorted(int(p) for p in f.read().split())
        except OSError:
            return []

    def kill(self, part: str) -> Any:
        """kill -9 ``part``; what ``restart`` needs to know of it."""
        assert self.group is not None
        if part == "worker":
            wait_for(lambda: bool(self._workers()), 60, lambda: "a compute worker to kill")
            victim = random.Random(time.monotonic_ns()).choice(self._workers())
            os.kill(victim, signal.SIGKILL)
            return victim
        self.group.kill(part)
        return None

    def restart(self, part: str, token: Any) -> None:
        """Bring ``part`` back (or, for a worker, wait for its supervisor to)."""
        if part == "worker":
            wait_for(
                lambda: len(self._workers()) == 2 and token not in self._workers(),
                60,
                lambda: "the supervisor to replace the killed worker",
            )
            return
        self._start_part(part)

    def check(self) -> None:
        assert self.group is not None
        self.group.check()

    def post(self, events: list[dict[str, Any]]) -> None:
        r = self.http.post(
            f"{self.collector}/v1/logs",
            content=ndjson(events),
            headers={"content-type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text

    def query(self, **body: Any) -> list[dict[str, Any]]:
        body.setdefault("interval", DAY)
        body.setdefault("granularity", "all")
        r = self.http.post(f"{self.serve}/api/v1/query", json=body)
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()["rows"]
        return rows

    def total(self) -> int:
        self.check()
        try:
            rows = self.query(queryType="timeseries", metrics=["events"], interval=DAY)
        except (httpx.HTTPError, AssertionError):
            return -1
        return int(sum(r["events"] or 0 for r in rows))

    def stop(self) -> None:
        if self.group is not None:
            self.group.stop()
        self.http.close()


class EmbeddedStack(Stack):
    """Collector, topology and serve on the embedded log and DuckDB."""

    parts = EMBEDDED_PARTS


class LocalStack(Stack):
    """Collector, topology and serve on the local stack's Kafka, with Druid as store:
    topics, consumer groups and datasource of this run's own."""

    parts = LOCAL_PARTS

    def __init__(self, data_dir: Path, stack: Settings) -> None:
        super().__init__(data_dir)
        tag = uuid.uuid4().hex[:8]
        self.stack = stack
        self.settings = replace(
            stack,
            data_dir=data_dir,
            topic_raw=f"chaos.raw.{tag}",
            topic_metrics=f"chaos.metrics.{tag}",
            topic_deadletter=f"chaos.dead.{tag}",
            topic_events=f"chaos.events.{tag}",
            topic_workers=f"chaos.workers.{tag}",
            datasource=f"chaos_{tag}",
            group_prefix=f"squall-chaos-{tag}",
            events=False,
        )

    def env(self) -> dict[str, str]:
        s = self.settings
        return {
            **super().env(),
            "broker": s.broker_url,
            "store": f"druid://127.0.0.1:8888/{s.datasource}",  # the datasource is in the URL
            "datasource": s.datasource,
            "topic_raw": s.topic_raw,
            "topic_metrics": s.topic_metrics,
            "topic_deadletter": s.topic_deadletter,
            "topic_events": s.topic_events,
            "topic_workers": s.topic_workers,
            "group_prefix": s.group_prefix,
            "events": "0",
        }

    def start(self) -> None:
        from squall.broker import ensure_topics, open_broker
        from squall.deploy.stack import druid

        ensure_all_up(self.stack)
        with open_broker(self.settings.broker_url) as broker:
            ensure_topics(broker, self.settings)
        druid.submit_supervisor(self.settings)
        super().start()

    def kill(self, part: str) -> Any:
        if part == "kafka" or part.startswith("druid-"):
            from squall.deploy.stack import process

            service = _jvm(self.stack, part)
            pid = process.running_pid(service)
            assert pid is not None, f"{part} is not running"
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: process.running_pid(service) is None, 30, lambda: f"{part} to die")
            return pid
        return super().kill(part)

    def restart(self, part: str, token: Any) -> None:
        if part == "kafka":
            from squall.deploy.stack import kafka

            with _KAFKA_LOCK:
                kafka.up(self.stack)
        elif part.startswith("druid-"):
            from squall.deploy.stack import druid

            druid.start_service(self.stack, part)  # that one only: others may be down too
        else:
            super().restart(part, token)

    def stop(self) -> None:
        from squall.deploy.stack import druid

        super().stop()
        with contextlib.suppress(Exception):
            druid.terminate_supervisor(self.settings)
            druid.drop_datasource(self.settings)


_KAFKA_LOCK = threading.Lock()
"""Kafka's ``deploy.stack`` ``up`` one at a time (two would start the JVM twice)."""


def _jvm(stack: Settings, part: str) -> Any:
    from squall.deploy.stack import druid, paths
    from squall.deploy.stack.kafka import KafkaStack

    if part == "kafka":
        return KafkaStack(paths(stack)).service()
    return next(svc for svc in druid.services(stack) if svc.name == part)


class ComposeStack(Stack):
    """deploy/docker-compose.yml's default profile as project ``squall-chaos`` on free
    host ports (images built first, volumes removed before and after): kill -9 is
    ``docker kill -s KILL`` of the part's container, restart ``docker compose start``
    of it, awaiting its healthcheck. The store is Druid's ``log_metrics``, fresh."""

    parts = COMPOSE_PARTS
    layout: dict[str, str] = {}

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.ports = {
            "SQUALL_COLLECTOR_PORT": str(self.collector_port),
            "SQUALL_SERVE_PORT": str(self.serve_port),
            "DRUID_CONSOLE_PORT": str(_free_port()),
            "COMPOSE_PROFILES": "",
            "POSTGRES_PASSWORD": "",
            **self.layout,
        }
        self.saved = {name: os.environ.get(name) for name in self.ports}
        self.docker: Any = None

    def start(self) -> None:
        from squall.deploy.compose import project

        os.environ.update(self.ports)  # compose reads them from its environment
        self.docker = project.client(project_name=COMPOSE_PROJECT)
        self.docker.compose.down(volumes=True, remove_orphans=True, quiet=True)
        _log(f"compose: images built in {project.build(self.docker):.1f} s")
        _log(f"compose: {COMPOSE_PROJECT} healthy {project.up(self.docker):.1f} s after up")

    def _ready(self, part: str) -> bool:
        from squall.deploy.compose import project

        mine = [s for s in project.status(self.docker) if s.service == part]
        assert not any(s.oom_killed for s in mine), f"{part} was killed for lack of memory"
        return bool(mine) and all(s.ready for s in mine)

    def kill(self, part: str) -> Any:
        (container,) = self.docker.compose.ps([part])
        self.docker.kill(container, signal="KILL")
        wait_for(lambda: not self._ready(part), 30, lambda: f"{part} to die")
        return None

    def restart(self, part: str, token: Any) -> None:
        self.docker.compose.start([part])
        wait_for(lambda: self._ready(part), 300, lambda: f"{part} healthy again")

    def check(self) -> None:
        pass  # the containers' states are Docker's; a dead part shows in the totals

    def stop(self) -> None:
        from squall.deploy.compose import project

        try:
            if self.docker is not None:
                logs = self.data_dir / "logs"  # kept when the run fails
                logs.mkdir(parents=True, exist_ok=True)
                for part in project.services(self.docker):
                    text = self.docker.compose.logs([part], timestamps=True)
                    (logs / f"{part}.log").write_text(str(text))
                self.docker.compose.down(volumes=True, remove_orphans=True, quiet=True)
        finally:
            super().stop()
            for name, value in self.saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def ensure_all_up(stack: Settings) -> None:
    """Kafka and every Druid service running and healthy (started again where not)."""
    from squall.deploy.stack import druid, kafka

    kafka.up(stack)
    druid.up(stack, supervisor=False)


class ClusterStack(ComposeStack):
    """The compose stack's ``cluster`` profile (three Kafka brokers with replication 3 and
    min.insync.replicas 2, two topology replicas, two historicals): the clients bootstrap
    from all three brokers, as the profile's users set ``SQUALL_KAFKA``."""

    parts = CLUSTER_PARTS
    layout = {
        "COMPOSE_PROFILES": "cluster",
        "SQUALL_KAFKA": "kafka:9092,kafka-2:9092,kafka-3:9092",
    }


def local_stack_settings() -> Settings:
    bootstrap = os.environ.get("SQUALL_TEST_KAFKA", "127.0.0.1:9092")
    return load_settings(overrides={"broker": f"kafka://{bootstrap}"})


# -- one run ------------------------------------------------------------------------------


@dataclass
class Outcome:
    seed: int
    stack: str
    schedule: list[Fault]
    recoveries: list[tuple[Fault, float]] = field(default_factory=list)
    accepted: int = 0
    retries: int = 0
    settle: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Plan:
    stack: str = "embedded"
    seed: int = 1
    faults: int = 3
    events: int = 20_000
    rate: float = 800.0  # events/s the client sends
    max_down: float = 4.0
    settle_timeout: float = 240.0


def run(plan: Plan, data_dir: Path) -> Outcome:
    """One chaos run; the outcome says what was wrong (nothing, when ``ok``)."""
    parts = PARTS[plan.stack]
    span = plan.events / plan.rate
    schedule = draw_schedule(plan.seed, plan.faults, parts, span, plan.max_down)
    out = Outcome(plan.seed, plan.stack, schedule)
    _log(f"chaos seed {plan.seed} on the {plan.stack} stack: {plan.events} events over "
         f"~{span:.0f} s, {len(schedule)} faults:")  # fmt: skip
    for fault in schedule:
        print(f"    {fault}", flush=True)
    stack: Stack
    if plan.stack == "local":
        stack = LocalStack(data_dir, local_stack_settings())
    elif plan.stack == "compose":
        stack = ComposeStack(data_dir)
    elif plan.stack == "cluster":
        stack = ClusterStack(data_dir)
    else:
        stack = EmbeddedStack(data_dir)
    events = draw_events(plan.seed, plan.events)
    try:
        stack.start()
        client = LoadClient(stack.collector, events, f"chaos-{plan.seed}-{uuid.uuid4().hex[:6]}",
                            rate=plan.rate)  # fmt: skip
        sender = threading.Thread(target=client.run, name="chaos-client", daemon=True)
        locks = {part: threading.Lock() for part in parts}
        began = time.monotonic()
        sender.start()
        faults = [
            threading.Thread(target=_inject, args=(stack, fault, began, locks, out), daemon=True)
            for fault in schedule
        ]
        for thread in faults:
            thread.start()
        for thread in faults:
            thread.join(timeout=900)
        sender.join(timeout=max(60.0, 3 * span))
        assert not sender.is_alive(), "the client did not finish sending"
        if client.error is not None:
            raise client.error
        out.accepted, out.retries = len(client.accepted), client.retries
        _log(f"client: {out.accepted} events got a 200, {client.retries} retries "
             f"({client.errors or 'none'}); refused: {client.refused[:3] or 'none'}")  # fmt: skip
        if client.refused:
            out.problems.append(f"the collector refused batches: {client.refused[:3]}")
        truth = ground_truth(client.accepted)
        settled = time.monotonic()
        out.problems.extend(settle_and_compare(stack, truth, len(client.accepted), plan))
        out.settle = time.monotonic() - settled
        _log(f"settled {out.settle:.1f} s after the client was done")
    except Exception as exc:  # a run that could not finish is a failed run
        out.problems.append(f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
    finally:
        stack.stop()
        if plan.stack == "local":
            ensure_all_up(local_stack_settings())
    return out


def _inject(
    stack: Stack, fault: Fault, began: float, locks: dict[str, threading.Lock], out: Outcome
) -> None:
    """One fault, in a thread of its own: faults of different parts overlap when the
    schedule says so; a part is killed again only once it is back from the last one."""
    time.sleep(max(0.0, began + fault.at - time.monotonic()))  # the schedule's clock
    with locks[fault.part]:
        try:
            token = stack.kill(fault.part)
            killed = time.monotonic()
            time.sleep(max(0.0, killed + fault.down - time.monotonic()))  # the downtime
            restarted = time.monotonic()
            stack.restart(fault.part, token)
        except Exception as exc:
            out.problems.append(f"{fault}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
            return
        took = time.monotonic() - restarted  # for a worker: from the kill
        out.recoveries.append((fault, took))
        _log(f"{fault.part}: killed at t+{killed - began:.1f} s, restarted after "
             f"{restarted - killed:.1f} s, healthy {took:.1f} s later")  # fmt: skip


def settle_and_compare(
    stack: Stack, truth: dict[Key, list[Any]], expected: int, plan: Plan
) -> list[str]:
    """Barriers until the store holds exactly ``expected`` events plus the markers, twice
    in a row; then the full aggregates against ``truth`` (problems, [] when equal)."""
    markers = 0
    seen: list[int] = []
    for tag in (1, 2):
        marks = [
            {"ts": "2026-01-01T23:59:00Z", "service": s, "path": f"/chaos-barrier-{tag}",
             "method": "GET", "status": 200, "bytes": 0, "latency_ms": 0.0}
            for s in SERVICES
        ]  # fmt: skip
        stack.post(marks)
        markers += len(marks)
        want = expected + markers

        def arrived(want: int = want) -> bool:
            seen.append(stack.total())
            return seen[-1] >= want

        try:
            wait_for(arrived, plan.settle_timeout, lambda w=want: f"{w} events in the store")
        except AssertionError as exc:
            return [f"{exc}; it counted {seen[-1]} (sent {expected} + {markers} markers)"]
        if seen[-1] != want:
            return [f"the store counted {seen[-1]} events; {want} were sent (doubles)"]
        for s in SERVICES:  # the markers are part of the truth from here on
            cell = truth.setdefault(
                ("2026-01-01T23:59:00", s, "GET", template_route(f"/chaos-barrier-{tag}"), "200"),
                [0, 0, 0, 0.0, 0.0, 0.0],
            )
            cell[0] += 1
    rows = stack.query(
        queryType="groupBy",
        granularity="minute",
        dimensions=["service", "method", "route", "status"],
        metrics=METRICS,
    )
    return compare(truth, rows)


def report(out: Outcome) -> None:
    status = "PASS" if out.ok else "FAIL"
    print(f"== seed {out.seed} on {out.stack}: {status}; {out.accepted} events acked, "
          f"{out.retries} client retries, settled in {out.settle:.1f} s", flush=True)  # fmt: skip
    for fault, took in sorted(out.recoveries, key=lambda r: r[0].at):
        print(f"     {fault}  -> healthy {took:.1f} s after restart")
    for problem in out.problems[:20]:
        print(f"     PROBLEM: {problem}")
    if len(out.problems) > 20:
        print(f"     ... and {len(out.problems) - 20} more")
    if not out.ok:
        print(f"     replay: python tests/e2e/chaos.py --stack {out.stack} --seed {out.seed}")


@contextlib.contextmanager
def run_dir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="squall-chaos-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, help="one seed (replays a run)")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated (default 1,2,3)")
    parser.add_argument(
        "--stack",
        default="embedded,local",
        help="embedded, local, compose, cluster, or a comma list",
    )
    parser.add_argument("--faults", type=int, default=0, help="per run (default: 1 per part)")
    parser.add_argument("--events", type=int, default=20_000, help="per run (default 20000)")
    parser.add_argument("--rate", type=float, default=500.0, help="events/s the client sends")
    parser.add_argument("--max-down", type=float, default=5.0, help="longest downtime, s")
    args = parser.parse_args(argv)

    seeds = [args.seed] if args.seed is not None else [int(s) for s in args.seeds.split(",")]
    outcomes: list[Outcome] = []
    for stack in args.stack.split(","):
        parts = PARTS[stack]
        for seed in seeds:
            plan = Plan(stack, seed, args.faults or len(parts), args.events, args.rate,
                        args.max_down)  # fmt: skip
            outcome = Outcome(seed, stack, [])
            with run_dir(keep=True) as path:
                outcome = run(plan, path)
                report(outcome)
                if outcome.ok:
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    print(f"     the parts' logs: {path / 'logs'}")
            outcomes.append(outcome)
    print("\nchaos summary:")
    for o in outcomes:
        recov = [t for _, t in o.recoveries]
        worst = f"{max(recov):.1f} s" if recov else "-"
        print(f"  {o.stack:<8} seed {o.seed:<6} {'PASS' if o.ok else 'FAIL'}  "
              f"{len(o.recoveries)} faults survived, slowest recovery {worst}, "
              f"settled {o.settle:.1f} s")  # fmt: skip
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
