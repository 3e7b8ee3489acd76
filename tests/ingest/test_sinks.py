"""Sinks and the sink runner: batches, retries with backoff, nothing dropped."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from squall.ingest.channels import Channel, FileChannel, MemoryChannel
from squall.ingest.event import Event
from squall.ingest.exceptions import SinkError
from squall.ingest.runner import SinkRunner
from squall.ingest.sinks import FileSink, Sink

from .conftest import wait_for


class Flaky(Sink):
    """Fails to start twice, then fails every other batch; keeps what it delivered."""

    def __init__(self) -> None:
        self.starts = 0
        self.calls = 0
        self.got: list[str] = []
        self.batches: list[int] = []

    def start(self) -> None:
        self.starts += 1
        if self.starts <= 2:
            raise SinkError("not yet")

    def process(self, events: list[Event]) -> None:
        self.calls += 1
        if self.calls % 2:
            raise SinkError("flaky")
        self.got += [e["body"] for e in events]
        self.batches.append(len(events))


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_runner_retries_and_delivers_everything_in_order(tmp_path: Path, kind: str) -> None:
    channel: Channel = MemoryChannel() if kind == "memory" else FileChannel(tmp_path)
    expected = []
    for r in range(30):
        bodies = [f"{r}-{i}" for i in range(7)]
        expected += bodies
        with channel.transaction() as tx:
            tx.put([{"headers": {}, "body": b} for b in bodies])
            tx.commit()
    sink = Flaky()
    runner = SinkRunner(channel, sink, batch_size=20, backoff_initial=0.001, backoff_max=0.01)
    runner.start()
    wait_for(lambda: channel.stats().events == 0, what="the channel to drain")
    runner.stop()
    assert sink.got == expected
    assert max(sink.batches) <= 20
    assert runner.errors == sink.calls // 2 + 2
    assert runner.delivered == len(expected)
    channel.close()


def test_file_sink_cuts_a_torn_last_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"headers":{},"body":"ok"}\n{"headers":{},"bo')
    sink = FileSink(out)
    sink.start()
    sink.process([{"headers": {"a": "b"}, "body": "next"}])
    sink.stop()
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert lines == [{"headers": {}, "body": "ok"}, {"headers": {"a": "b"}, "body": "next"}]


def test_file_sink_reports_an_unwritable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SinkError, match="file sink cannot open"):
        FileSink(blocker / "out.jsonl").start()
