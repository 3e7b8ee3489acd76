"""make audit's input: every dependency of pyproject.toml, each pinned to one version."""

from __future__ import annotations

from squall.deploy.audit import pinned


def test_every_dependency_is_pinned_and_listed() -> None:
    pins = pinned()
    assert all("==" in p and "#" not in p and ";" not in p for p in pins), pins
    names = {p.split("==")[0].lower() for p in pins}
    assert {"fastapi", "duckdb", "pytest", "pip-audit", "schemathesis"} <= names
