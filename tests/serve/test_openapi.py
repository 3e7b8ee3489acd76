"""The query API against its own OpenAPI description (schemathesis): every operation,
with requests the spec allows and requests it does not; no answer is a 5xx, and every
answer conforms to the spec (status code, content type, headers, body schema).

schemathesis's pytest plugin does not run on pytest 9, so each operation's strategy is
driven by hypothesis here (tests/spec_fuzz.py)."""

from __future__ import annotations

import pytest
import schemathesis

from squall.serve.app import create_app
from squall.serve.store import open_store

from ..spec_fuzz import cases, fuzz_operation, operations
from .conftest import delta_rows, make_events

with open_store("duckdb://:memory:") as _probe:  # the operations, to name the tests
    CASES = cases(schemathesis.openapi.from_asgi("/openapi.json", create_app(_probe)))


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{c[0]} {c[1].value}" for c in CASES])
def test_query_api_conforms_to_its_spec(label: str, mode: schemathesis.GenerationMode) -> None:
    with open_store("duckdb://:memory:") as store:
        store.write(delta_rows(make_events(300, seed=3), flushes=1))
        schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(store))
        examples = 30 if label.startswith("POST") else 3  # a GET here takes (almost) nothing
        fuzz_operation(operations(schema)[label], mode, max_examples=examples)
