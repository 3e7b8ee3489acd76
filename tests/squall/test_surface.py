"""The public surfaces of squall, its broker and deploy: pinned, so that a change to
them is a decision, not an accident."""

from __future__ import annotations

import importlib

import pytest

from squall.exceptions import SquallError

SURFACE = {
    "squall": ["SquallError", "__version__"],
    "squall.exceptions": ["ConfigError", "RowFormatError", "SquallError"],
    "squall.auth": ["BearerAuth"],
    "squall.tls": ["client_verify", "scheme", "uvicorn_tls"],
    "squall.rows": [
        "COLUMNS",
        "KEY_COLUMNS",
        "Accumulator",
        "Key",
        "Row",
        "WireRow",
        "add_stored",
        "decode_row",
        "encode_row",
        "finish",
        "merge_rows",
        "project",
        "roll_up",
        "roll_up_stored",
        "row_key",
    ],
    "squall.sketches": [
        "HLL",
        "QUANTILES",
        "SKETCH_KINDS",
        "SketchKind",
        "hll_estimate",
        "quantiles",
    ],
    "squall.broker": [
        "Broker",
        "BrokerError",
        "BrokerUnavailable",
        "Consumer",
        "Producer",
        "Record",
        "TopicPartition",
        "TransactionAborted",
        "ensure_topics",
        "open_broker",
    ],
    "squall.deploy.cli": ["run_compose", "run_init", "run_stack", "service_module"],
    "squall.deploy.stack": ["POMS", "SERVICES", "ServiceState", "StackPaths", "paths"],
    "squall.deploy.exceptions": [
        "ComposeUnavailable",
        "DependencyResolutionFailed",
        "JavaNotFound",
        "MavenNotFound",
        "PortInUse",
        "ServiceFailed",
        "ServiceTimeout",
        "StackError",
        "ToolMissing",
        "UnknownService",
    ],
}


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_exported_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(SURFACE[module])
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"


def test_deploy_errors_share_the_root() -> None:
    errors = importlib.import_module("squall.deploy.exceptions")
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.StackError)
    assert issubclass(errors.StackError, SquallError)
