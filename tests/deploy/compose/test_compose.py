"""deploy/docker-compose.yml on a real Docker engine (``make test`` starts one).

Static checks first (``docker compose config`` for every profile; each command a Squall
service runs parses with Squall's CLI; each ``SQUALL_*`` variable set is one the
settings read), then the whole stack from built images: known events posted to the
published collector port, the query API's answers (on Druid) equal to ground truth
computed here from the input, after ``docker kill -s KILL`` of the topology and of the
collector mid-stream and ``docker compose up -d`` again; Druid's metadata in PostgreSQL
(psql in the ``postgres`` container) and still there after a restart of the coordinator,
with answers still equal to ground truth; and ``docker compose down -v`` leaves no
container, network or volume behind. Statically: postgres publishes no port, the Druid
services wait for it, the default profile's memory limits fit 8 GiB.

The stack runs as project ``squall-test`` on free host ports, so it clashes neither with
a user's ``squall`` project nor with the local Maven-jar stack. Without an engine the
tests skip, and fail under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest

from squall.cli import build_parser
from squall.deploy.compose import context, engine, project
from squall.druid_spec import DATASOURCE, EVENTS_DATASOURCE
from squall.settings import Settings
from squall.traffic import generate_events

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1200)]

SQUALL_IMAGE = "/squall:"  # <SQUALL_IMAGE_PREFIX>/squall:<version>
PROFILES: tuple[tuple[str, ...], ...] = ((), ("cluster",))


def _need(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {what}")
    pytest.skip(what)


def _compose_config(profiles: tuple[str, ...]) -> dict[str, Any]:
    if shutil.which("docker") is None or not engine.compose_available():
        _need("no `docker compose` here (make engine-up installs it)")
    cmd = ["docker", "compose", "-f", str(project.COMPOSE_FILE), "config", "--format", "json"]
    env = {**os.environ, "COMPOSE_PROFILES": ",".join(profiles)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


@pytest.mark.parametrize("profiles", PROFILES, ids=lambda p: "+".join(p) or "default")
def test_compose_config_is_valid_for_every_profile(profiles: tuple[str, ...]) -> None:
    config = _compose_config(profiles)
    services = config["services"]
    assert {"kafka", "collector", "topology", "serve", "init", "demo", "router"} <= set(services)
    if "cluster" in profiles:
        assert {"kafka-2", "kafka-3", "historical-2", "topology-2"} <= set(services)
        assert services["kafka"]["environment"]["KAFKA_NODE"] == "cluster"
    for name, service in services.items():
        assert service.get("init") is True, f"{name}: init: true (SIGTERM reaches the process)"
        assert service.get("mem_limit"), f"{name}: no memory limit"
        assert service.get("pull_policy") in ("build", "never"), f"{name}: no registry here"
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond localhost"
        command = service.get("command") or [""]
        if command[0].startswith("/opt/druid/run-") and name != "zookeeper":
            # druid.host is the hostname: the same after a restart (the IP is not), so the
            # overlord knows a restarted indexer as the one it gave its tasks to
            assert service.get("hostname") == name, f"{name}: hostname: {name}"
        if service.get("restart") != "no":
            assert "healthcheck" in service, f"{name}: a long-running service without a healthcheck"


@pytest.mark.parametrize("profiles", PROFILES, ids=lambda p: "+".join(p) or "default")
def test_every_squall_command_and_variable_is_one_squall_knows(profiles: tuple[str, ...]) -> None:
    config = _compose_config(profiles)
    known = {f"SQUALL_{f.name.upper()}" for f in fields(Settings)}
    parser = build_parser()
    checked = 0
    for name, service in config["services"].items():
        if SQUALL_IMAGE not in service["image"]:
            continue
        parser.parse_args(service["command"])  # SystemExit (a failure) if squall lacks it
        unknown = {v for v in service.get("environment", {}) if v.startswith("SQUALL_")} - known
        assert not unknown, f"{name} sets {unknown}, which no setting reads"
        checked += 1
    assert checked >= 5
    dockerfile = (context.DEPLOY / "docker" / "squall.Dockerfile").read_text()
    assert set(re.findall(r"\b(SQUALL_[A-Z_]+)=", dockerfile)) <= known


def test_postgres_is_internal_and_the_druid_services_wait_for_it() -> None:
    services = _compose_config(())["services"]
    postgres = services["postgres"]
    assert not postgres.get("ports"), "the metadata store must not be published on the host"
    assert int(postgres["mem_limit"]) <= 128 * 2**20
    assert "pg_isready" in postgres["healthcheck"]["test"]
    for name in ("coordinator", *context.METADATA_CLIENTS):
        service = services[name]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        secret = [v for v in service["volumes"] if v["source"] == "postgres-secret"]
        assert secret and secret[0]["read_only"], f"{name}: the password volume, read-only"
        assert secret[0]["target"] == str(context.POSTGRES_SECRET.parent)
        # compose substitutes deploy/.env's value or "" (then the volume's file is read)
        assert "POSTGRES_PASSWORD" in service["environment"], name


def test_the_default_profile_fits_a_docker_host_of_8_gib() -> None:
    services = _compose_config(())["services"]
    total = sum(int(service["mem_limit"]) for service in services.values())
    assert total <= 8 * 2**30, f"{total / 2**30:.2f} GiB"


# -- the stack on the engine ----------------------------------------------------------


def _events(count: int, seed: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return list(generate_events(count=count, seed=seed, start=start, rate=200.0))


def test_kill_9_of_topology_and_collector_mid_stream_gives_exact_totals(stack: Any) -> None:
    events = _events(30_000, seed=11)
    truth = Counter((str(e["service"]), str(e["status"])) for e in events)
    bytes_truth: Counter[str] = Counter()
    for e in events:
        bytes_truth[str(e["service"])] += int(e["bytes"])

    stack.post(events[:10_000])
    stack.wait_for(lambda: stack.total() > 0, "the first rows in Druid")
    stack.post(events[10_000:15_000])
    stack.kill("topology")  # mid-stream: rows aggregated but not committed are redone
    stack.post(events[15_000:20_000])
    stack.up_again()
    stack.post(events[20_000:25_000])
    stack.kill("collector")  # every event it answered 200 for is in its durable channel
    stack.up_again()
    stack.post(events[25_000:])
    seen: list[int] = []

    def all_in() -> bool:
        seen.append(stack.total())
        return seen[-1] >= len(events)

    stack.wait_for(all_in, lambda: f"{len(events)} events in Druid (last {seen[-3:]})")
    assert seen[-1] == len(events)  # nothing counted twice
    rows = stack.query(
        queryType="groupBy",
        granularity="all",
        dimensions=["service", "status"],
        metrics=["events", "bytes"],
    )
    assert {(r["service"], r["status"]): r["events"] for r in rows} == dict(truth)
    per_service: Counter[str] = Counter()
    for r in rows:
        per_service[r["service"]] += r["bytes"]
    assert per_service == bytes_truth


def test_the_pipeline_page_reads_the_collector_the_workers_and_the_lag(stack: Any) -> None:
    page = stack.pipeline()
    assert page["workers"]["snapshots"], page["workers"]  # the topology's metrics topic
    assert page["lag"]["error"] is None and page["lag"]["partitions"], page["lag"]
    before = page["collector"]
    assert before["up"], before["error"]  # serve reaches collector:8100, not its own host
    events = _events(500, seed=12)
    stack.post(events)
    after = stack.pipeline()["collector"]
    assert after["accepted_events"] - before["accepted_events"] == len(events)


def _psql(stack: Any, sql: str) -> list[str]:
    """Rows of ``sql`` in the database ``druid``, from psql inside the postgres container."""
    out = stack.docker.compose.execute(
        "postgres", ["psql", "-U", "postgres", "-d", "druid", "-At", "-c", sql], tty=False
    )
    return str(out or "").splitlines()


def test_druid_metadata_lives_in_postgresql_and_outlives_a_coordinator_restart(
    stack: Any,
) -> None:
    stack.post(_events(2_000, seed=14))
    # every event posted on this stack so far (earlier tests' too: the pipeline page's
    # are not awaited there) in before the baseline is read, or late ones count as new
    stack.wait_for(lambda: stack.total() >= stack.posted, lambda: f"{stack.posted} rows in Druid")
    submitted = {DATASOURCE, EVENTS_DATASOURCE}  # what the init job submits (squall init)
    assert set(_psql(stack, "SELECT spec_id FROM druid_supervisors")) == submitted
    stack.wait_for(
        lambda: int(_psql(stack, "SELECT count(*) FROM druid_segments WHERE used")[0]) > 0,
        lambda: "a published segment in druid_segments",
    )
    # no Derby: nothing in the shared volume where the coordinator used to host it
    listing = stack.docker.compose.execute("coordinator", ["ls", "/var/lib/druid"], tty=False)
    assert "metadata.db" not in str(listing)
    # no POSTGRES_PASSWORD (as without deploy/.env): the one postgres generated, read by Druid
    env = stack.docker.compose.execute("coordinator", ["printenv", "POSTGRES_PASSWORD"], tty=False)
    assert str(env or "").strip() == ""
    stack.docker.compose.execute(
        "postgres", ["test", "-s", str(context.POSTGRES_SECRET)], tty=False
    )

    before_total = stack.total()
    assert before_total == stack.posted  # nothing counted twice
    dims = {"queryType": "groupBy", "granularity": "all", "dimensions": ["service", "status"]}
    before = {
        (r["service"], r["status"]): r["events"] for r in stack.query(**dims, metrics=["events"])
    }
    stack.docker.compose.restart(["coordinator"])
    project.wait_healthy(stack.docker)
    supervisors = stack.http.get(f"{stack.console}/druid/indexer/v1/supervisor")
    assert supervisors.status_code == 200 and set(supervisors.json()) == submitted

    events = _events(3_000, seed=15)
    truth = Counter(before)
    truth.update((str(e["service"]), str(e["status"])) for e in events)
    stack.post(events)
    seen: list[int] = []

    def all_in() -> bool:
        seen.append(stack.total())
        return seen[-1] >= before_total + len(events)

    stack.wait_for(all_in, lambda: f"{before_total + len(events)} events (last {seen[-3:]})")
    assert seen[-1] == before_total + len(events)
    rows = stack.query(**dims, metrics=["events"])
    assert {(r["service"], r["status"]): r["events"] for r in rows} == dict(truth)


def test_down_v_leaves_nothing_behind(stack: Any) -> None:
    assert stack.leftovers(), "the stack should be up before this test"
    stack.docker.compose.down(volumes=True, remove_orphans=True, quiet=True)
    assert stack.leftovers() == []
