"""The layers of the squall namespace, enforced on every import in the product code.

kernel (settings, errors, topics, schema, ...) -> broker -> the stages (ingest, compute,
serve, deploy) -> the app shell (CLI, demo, processes, traffic). A module imports from
its own layer and the layers below; a stage never imports another stage; and nothing,
tests and benchmarks included, imports a stage by its folder name (``import compute``
would load a second copy of it beside ``squall.compute``).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("ingest", "compute", "serve", "deploy")
SHELL = ("squall.cli", "squall.demo", "squall.processes", "squall.traffic", "squall.__main__")
RANK = {"kernel": 0, "broker": 1, "stage": 2, "shell": 3}


def layer(module: str) -> tuple[str, str]:
    """(layer, unit): a stage's unit is the stage, so stages can be told apart."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        return "stage", parts[1]
    if module.startswith("squall.broker"):
        return "broker", "broker"
    if any(module == s or module.startswith(s + ".") for s in SHELL):
        return "shell", "shell"
    return "kernel", "kernel"


def python_files(tree: str) -> list[Path]:
    """The .py files under ``tree``, through the links to the stages."""
    found = []
    for folder, _dirs, files in os.walk(ROOT / tree, followlinks=True):
        found.extend(Path(folder) / f for f in files if f.endswith(".py"))
    return sorted(found)


def product_modules() -> Iterator[tuple[str, Path]]:
    """Every module of the squall package, the stages under their installed names."""
    for path in python_files("squall"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Absolute names of what ``path`` imports (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield (f"{base}.{node.module}" if node.module else base), node.lineno
            elif node.module:
                yield node.module, node.lineno


def test_the_stages_are_installed_in_the_squall_namespace() -> None:
    modules = dict(product_modules())
    for stage in STAGES:
        assert f"squall.{stage}" in modules, f"squall/{stage} should link to ../{stage}"


def test_every_import_goes_down_the_layers() -> None:
    upward: list[str] = []
    for module, path in product_modules():
        mine, my_unit = layer(module)
        for name, line in imports(module, path):
            if not name.startswith("squall"):
                continue
            theirs, their_unit = layer(name)
            where = f"{path.relative_to(ROOT)}:{line} imports {name}"
            if RANK[theirs] > RANK[mine]:
                upward.append(f"{where} ({mine} -> {theirs})")
            elif theirs == mine == "stage" and their_unit != my_unit:
                upward.append(f"{where} (stage {my_unit} -> stage {their_unit})")
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


@pytest.mark.parametrize("tree", ["squall", "tests", "bench"])
def test_nothing_imports_a_stage_by_its_folder_name(tree: str) -> None:
    found = []
    for path in python_files(tree):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for name, line in imports(module, path):
            if name.split(".")[0] in STAGES:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not found, "use squall.<stage>:\n" + "\n".join(found)
