"""The classic word count, over the request paths of 10,000 real Apache log lines,
checked against a plain Python count of the same file."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from squall.compute import Bolt, Config, LocalCluster, Spout, Topology, TopologyContext, Tuple

LOG = Path(__file__).parents[1] / "data" / "apache_logs"


def expected_paths() -> Counter[str]:
    """Ground truth, computed without the runtime and with a different parser."""
    request = re.compile(r'"[A-Z]+ (\S+)(?: HTTP/[0-9.]+)?"')
    with LOG.open(encoding="utf-8") as f:
        return Counter(m.group(1) for line in f if (m := request.search(line)))


class Lines(Spout):
    """Reads the log file; each line is a tracked tuple with its line number as msg_id.
    Tasks split the lines by task_index."""

    outputs = ["line"]
    acked: set[int]
    failed: list[int]

    def open(self, context: TopologyContext) -> None:
        self.file = LOG.open(encoding="utf-8")
        self.number = -1
        self.index, self.tasks = context.task_index, context.parallelism

    def next_tuple(self) -> None:
        for line in self.file:
            self.number += 1
            if self.number % self.tasks == self.index:
                self.emit([line], msg_id=self.number)
                return

    def ack(self, msg_id: Any) -> None:
        assert msg_id not in self.acked
        self.acked.add(msg_id)

    def fail(self, msg_id: Any) -> None:
        self.failed.append(msg_id)

    def close(self) -> None:
        self.file.close()


class SplitPath(Bolt):
    """Extracts the request path: the second word of the quoted request."""

    outputs = ["path"]

    def process(self, tup: Tuple) -> None:
        request = tup["line"].split('"')[1].split()
        if len(request) >= 2:
            self.emit([request[1]], anchors=tup)


class CountPath(Bolt):
    counts: dict[int, Counter[str]]

    def prepare(self, context: TopologyContext) -> None:
        self.mine = self.counts.setdefault(context.task_id, Counter())

    def process(self, tup: Tuple) -> None:
        self.mine[tup["path"]] += 1


@pytest.mark.parametrize(("spouts", "splitters"), [(1, 2), (2, 3)])
def test_path_count_matches_a_plain_count(spouts: int, splitters: int) -> None:
    truth = expected_paths()
    assert sum(truth.values()) == 10_000 and len(truth) > 1000  # the data is what we think

    Lines.acked, Lines.failed = set(), []
    counts: dict[int, Counter[str]] = {}
    CountPath.counts = counts
    topo = Topology("path-count")
    topo.spout("lines", Lines, parallelism=spouts)
    topo.bolt("split", SplitPath, parallelism=splitters).shuffle_grouping("lines")
    topo.bolt("count", CountPath, parallelism=4).fields_grouping("split", ["path"])
    with LocalCluster(Config(message_timeout=30, max_spout_pending=500)) as cluster:
        cluster.submit(topo)
        cluster.wait_idle(timeout=30)
        metrics = cluster.metrics()

    total: Counter[str] = Counter()
    for c in counts.values():
        total.update(c)
    assert total == truth
    assert len(counts) == 4 and all(counts.values())  # every count task did some work
    owners = Counter(path for c in counts.values() for path in c)
    assert set(owners.values()) == {1}  # each path counted by exactly one task
    # every tuple tree was acked: each line once, none failed
    assert Lines.acked == set(range(10_000)) and Lines.failed == []
    assert (metrics["lines"].acked, metrics["lines"].failed) == (10_000, 0)
    assert metrics["split"].executed == 10_000 and metrics["count"].executed == 10_000
