"""The log shippers users already run, pointed at the collector as docs/shippers.md says:
syslog-ng (Debian's package), Apache Flume 1.11 (from Maven Central) and the OpenTelemetry
SDK's OTLP exporter (PyPI). Each ships 2,000 real lines with the collector stopped for a
few seconds in the middle; the query API then counts every line exactly once, in the
minute its own timestamp says."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from squall.deploy.stack import POMS, maven, paths
from squall.settings import load_settings

from .conftest import Pipeline, wait_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "shippers"
LINES = 2000
OUTAGE = 3.0  # seconds the collector is away: the fault, not a wait for something


def _minute(line: str) -> str:
    stamp = line.split("[", 1)[1].split("]", 1)[0]
    t = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:00Z")


def _nanos(line: str) -> int:
    stamp = line.split("[", 1)[1].split("]", 1)[0]
    return int(datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp()) * 10**9


def _config(name: str, **values: str) -> str:
    """A tested configuration from docs/shippers with its {placeholders} filled in."""
    text = (DOCS / name).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    assert "{file}" not in text and "{collector}" not in text
    return text


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path / "squall")
    try:
        for name in ("collector", "topology", "serve"):
            p.start(name)
        yield p
    finally:
        p.stop()


def _accepted(p: Pipeline) -> float:
    text = httpx.get(f"{p.collector}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("squall_ingest_accepted_events_total "):
            return float(line.split()[1])
    return 0.0


def _alive(shipper: subprocess.Popen[bytes] | None, log: Path | None) -> None:
    if shipper is not None and shipper.poll() is not None:
        tail = log.read_text(errors="replace")[-3000:] if log else ""
        raise AssertionError(f"the shipper exited with {shipper.returncode}:\n{tail}")


def _outage(
    p: Pipeline,
    then: Callable[[], None],
    shipper: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Stop the collector once it has taken some of the lines, keep it away for OUTAGE
    seconds (running ``then`` meanwhile), and start it again."""

    def some_taken() -> bool:
        _alive(shipper, log)
        return _accepted(p) >= LINES // 10

    wait_for(some_taken, 60, "the collector to take some lines")
    p.parts.terminate("collector")
    began = time.monotonic()
    then()
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - began)))
    p.start("collector")


def _check(p: Pipeline, service: str, lines: list[str]) -> None:
    """Every line counted once, in its own minute, for ``service``."""

    def count(interval: str, granularity: str) -> dict[str, int]:
        rows = p.query(
            queryType="timeseries",
            interval=interval,
            granularity=granularity,
            filter={"service": service},
            metrics=["events"],
        )
        return {r["timestamp"]: r["events"] for r in rows if r["events"]}

    def by_minute() -> dict[str, int]:  # apache_logs: 17 to 20 May 2015
        return count("2015-05-17T00:00:00Z/2015-05-21T00:00:00Z", "minute")

    def markers() -> int:
        return sum(count("2026-06-01T00:00:00Z/2026-06-02T00:00:00Z", "all").values())

    wait_for(lambda: sum(by_minute().values()) >= len(lines), 180, f"{len(lines)} events")
    # a marker behind every line in the same partition: once it is counted, so is all
    # that came before it, and nothing counted twice can hide behind a later wait
    marker = '0.0.0.0 - - [01/Jun/2026:00:00:00 +0000] "GET /marker HTTP/1.1" 200 1'
    p.post_lines([marker], service)
    wait_for(lambda: markers() >= 1, 120, "the marker")
    assert markers() == 1
    assert by_minute() == dict(Counter(_minute(line) for line in lines))


def _write(path: Path, lines: list[str]) -> None:
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())


def _tail_a_file(
    pipeline: Pipeline,
    lines: list[str],
    state: Path,
    config: str,
    argv: Callable[[Path], list[str]],
    service: str,
) -> None:
    """Run a shipper that follows a file: half the lines are in the file when it starts,
    the rest are written during the outage; then every line must be counted once."""
    state.mkdir()
    log_file = state / "access.log"
    _write(log_file, lines[: LINES // 2])
    conf = state / config
    conf.write_text(
        _config(
            config,
            file=str(log_file),
            state=str(state),
            collector=pipeline.collector,
            service=service,
        )
    )
    out_log = state / "out.log"
    with out_log.open("wb") as out:
        proc = subprocess.Popen(argv(conf), stdout=out, stderr=out, cwd=state)
    try:
        _outage(pipeline, lambda: _write(log_file, lines[LINES // 2 :]), proc, out_log)
        _check(pipeline, service, lines)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_syslog_ng(pipeline: Pipeline, apache_log_lines: list[str], tmp_path: Path) -> None:
    binary = shutil.which("syslog-ng")
    if binary is None:
        pytest.fail("syslog-ng is not installed; `make system-packages` installs it")
    state = tmp_path / "syslog-ng"

    def argv(conf: Path) -> list[str]:
        files = ["-R", str(state / "persist"), "-p", str(state / "pid"), "-c", str(state / "ctl")]
        return [binary, "-F", "-e", "--no-caps", "-f", str(conf), *files]

    _tail_a_file(pipeline, apache_log_lines[:LINES], state, "syslog-ng.conf", argv, "sng")


def test_flume(pipeline: Pipeline, apache_log_lines: list[str], tmp_path: Path) -> None:
    java = shutil.which("java")
    if java is None:
        pytest.fail("java is not on PATH; Flume needs a JRE 11 or newer")
    where = paths(load_settings())
    lib = where.lib_dir("flume")
    maven.resolve(POMS / "flume" / "pom.xml", lib, maven_repo=where.maven_repo)

    def argv(conf: Path) -> list[str]:
        main = "org.apache.flume.node.Application"
        return [java, "-Xmx256m", "-cp", f"{lib}/*", main, "-n", "agent", "-f", str(conf)]

    lines = apache_log_lines[LINES : 2 * LINES]
    _tail_a_file(pipeline, lines, tmp_path / "flume", "flume.conf", argv, "flume")


def test_opentelemetry_sdk(pipeline: Pipeline, apache_log_lines: list[str]) -> None:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    lines = apache_log_lines[2 * LINES : 3 * LINES]
    provider = LoggerProvider(resource=Resource.create({"service.name": "otel"}))
    exporter = OTLPLogExporter(endpoint=f"{pipeline.collector}/v1/logs", timeout=60)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=200))
    logger = provider.get_logger("squall-test")

    def emit(part: list[str]) -> None:
        for line in part:
            logger.emit(body=line, timestamp=_nanos(line), severity_text="INFO")

    try:
        emit(lines[: LINES // 2])
        _outage(pipeline, lambda: emit(lines[LINES // 2 :]))
        assert provider.force_flush(60_000)
        _check(pipeline, "otel", lines)
    finally:
        provider.shutdown()
