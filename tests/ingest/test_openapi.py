"""The collector against its own OpenAPI description (schemathesis): Flume JSON, raw
lines, NDJSON and OTLP bodies the spec allows, and requests it does not; no answer is a
5xx, and every answer conforms to the spec (status, content type, headers, body)."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI

from squall.ingest.channels import MemoryChannel
from squall.ingest.interceptors import InterceptorChain
from squall.ingest.metrics import IngestMetrics
from squall.ingest.source.http import HttpSource

from ..spec_fuzz import cases, fuzz_operation, operations


def collector() -> FastAPI:
    """The collector's app over a memory channel (no sink: what it accepts stays)."""
    return HttpSource(MemoryChannel(), InterceptorChain(), IngestMetrics()).app()


CASES = cases(schemathesis.openapi.from_asgi("/openapi.json", collector()))


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{c[0]} {c[1].value}" for c in CASES])
def test_collector_conforms_to_its_spec(label: str, mode: schemathesis.GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", collector())
    examples = 25 if label.startswith("POST") else 3
    fuzz_operation(operations(schema)[label], mode, max_examples=examples)
