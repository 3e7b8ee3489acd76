"""The short seeded form of `make chaos` (tests/e2e/chaos.py): one run on the embedded
pipeline, one on the local stack (Kafka + Druid), one on the compose stack (every part of
it; in the compose stage of ``make test``, which starts the engine). A client sends a
known event set and retries as a real one does while parts are killed -9 and restarted
on the seed's schedule; then the store's full aggregates must equal those of the events
that got a 200, each counted exactly once. The seed is printed (``pytest -s``); a failure
says how to replay it. ``SQUALL_CHAOS_SEED`` picks another seed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from squall.deploy.compose import engine

from .chaos import COMPOSE_PARTS, EMBEDDED_PARTS, Plan, draw_schedule, report, run

SEED = int(os.environ.get("SQUALL_CHAOS_SEED", "3"))


def test_the_schedule_is_drawn_from_the_seed_and_hits_every_part_before_any_twice() -> None:
    one = draw_schedule(7, 5, EMBEDDED_PARTS, 30.0, 4.0)
    assert one == draw_schedule(7, 5, EMBEDDED_PARTS, 30.0, 4.0)
    assert one != draw_schedule(8, 5, EMBEDDED_PARTS, 30.0, 4.0)
    assert sorted(f.part for f in one[:3]) == sorted(EMBEDDED_PARTS)
    assert [f.at for f in one] == sorted(f.at for f in one)
    assert all(0 < f.at < 30 and 0 <= f.down <= 4 for f in one)


@pytest.mark.timeout(400)
def test_chaos_on_the_embedded_pipeline_counts_every_acked_event_once(tmp_path: Path) -> None:
    outcome = run(Plan("embedded", SEED, faults=3, events=10_000, rate=400.0), tmp_path)
    report(outcome)
    assert outcome.ok, f"seed {SEED}: {outcome.problems[:10]}"
    assert len(outcome.recoveries) == 3
    assert outcome.accepted == 10_000


@pytest.mark.druid
@pytest.mark.timeout(900)
def test_chaos_on_the_local_stack_counts_every_acked_event_once(
    druid_stack: Any, tmp_path: Path
) -> None:
    # seed 3: the collector, a worker, Kafka and the Druid indexer (make chaos: all six)
    plan = Plan("local", SEED, faults=4, events=10_000, rate=250.0, max_down=4.0)
    outcome = run(plan, tmp_path)
    report(outcome)
    assert outcome.ok, f"seed {SEED}: {outcome.problems[:10]}"
    assert len(outcome.recoveries) == 4
    assert outcome.accepted == 10_000


@pytest.mark.compose
@pytest.mark.timeout(1500)
def test_chaos_on_the_compose_stack_counts_every_acked_event_once(tmp_path: Path) -> None:
    if not engine.engine_running():
        message = "no Docker engine answers `docker info` (as root: make engine-up)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    # all six parts: the collector, topology, serve, Kafka, Druid's indexer and historical
    plan = Plan("compose", SEED, faults=len(COMPOSE_PARTS), events=10_000, rate=250.0)
    outcome = run(plan, tmp_path)
    report(outcome)
    assert outcome.ok, f"seed {SEED}: {outcome.problems[:10]}"
    assert len(outcome.recoveries) == len(COMPOSE_PARTS)
    assert outcome.accepted == 10_000
