"""Schema-driven fuzzing of an ASGI app's OpenAPI description with schemathesis, one
operation and generation mode at a time, under hypothesis (schemathesis's own pytest
plugin does not run on pytest 9)."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """The collector's spec gives NDJSON as an array of line objects: one line each."""
    items = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")

MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def operations(schema: Any) -> dict[str, Any]:
    """``"METHOD /path"`` -> the operation, for every operation of ``schema``."""
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[operation.label] = operation
    return found


def cases(schema: Any) -> list[tuple[str, schemathesis.GenerationMode]]:
    """(operation, mode) pairs: every operation with valid input; those that take a body
    or query parameters also with invalid input (nothing else can break a schema)."""
    out = []
    for label, operation in operations(schema).items():
        out.append((label, MODES[0]))
        if len(operation.body) or len(operation.query):
            out.append((label, MODES[1]))
    return out


def fuzz_operation(
    operation: Any, mode: schemathesis.GenerationMode, max_examples: int = 30, **call: Any
) -> None:
    """Send ``max_examples`` generated requests; fail on a 5xx or an answer the spec does
    not describe, or when a request the spec forbids is accepted (schemathesis's default
    checks). Left out: positive_data_acceptance, since validity here also depends on
    rules a schema cannot state (an ISO-8601 interval with start < end, a groupBy's
    dimensions): the 400 that such a request gets is checked against the spec instead."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(excluded_checks=[positive_data_acceptance], **call)

    run()
