"""The compose stack's ``cluster`` profile on a real Docker engine: three Kafka brokers
(replication factor 3, min.insync.replicas 2), two historicals, two topology replicas.
One broker killed mid-stream (``docker kill -s KILL``) and left down: nothing lost,
nothing doubled, and the pipeline keeps running on the other two."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from squall.deploy.compose import project
from squall.traffic import generate_events

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1200)]


def test_one_kafka_broker_killed_mid_stream_gives_exact_totals(cluster_stack: Any) -> None:
    stack = cluster_stack
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = list(generate_events(count=20_000, seed=13, start=start, rate=200.0))
    truth = Counter((str(e["service"]), str(e["status"])) for e in events)

    stack.post(events[:8_000])
    stack.wait_for(lambda: stack.total() > 0, lambda: "the first rows in Druid")
    stack.kill("kafka-2")  # and it stays down: two brokers of three, min.insync 2
    stack.post(events[8_000:])
    seen: list[int] = []

    def all_in() -> bool:
        seen.append(stack.total())
        return seen[-1] >= len(events)

    stack.wait_for(all_in, lambda: f"{len(events)} events in Druid (last {seen[-3:]})")
    assert seen[-1] == len(events)  # nothing counted twice
    rows = stack.query(queryType="groupBy", dimensions=["service", "status"], metrics=["events"])
    assert {(r["service"], r["status"]): r["events"] for r in rows} == dict(truth)
    states = {s.service: s.state for s in project.status(stack.docker)}
    assert states["kafka-2"] == "exited"  # a killed container is not restarted
    assert states["kafka"] == states["kafka-3"] == "running"
