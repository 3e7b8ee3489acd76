"""deploy.stack.maven: resolve a small pom through the real Maven, cache, re-resolve."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from squall.deploy.exceptions import DependencyResolutionFailed, MavenNotFound
from squall.deploy.stack import maven

pytestmark = pytest.mark.usefixtures("java_and_maven")

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.squall.test</groupId>
  <artifactId>tiny</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>
    </dependency>
  </dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId>
    <artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
  </plugin></plugins></build>
</project>
"""


def _pom(path: Path, group: str, artifact: str, version: str) -> Path:
    path.write_text(_POM.format(group=group, artifact=artifact, version=version))
    return path


def test_resolves_once_and_again_when_the_pom_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pom = _pom(tmp_path / "pom.xml", "org.slf4j", "slf4j-api", "1.7.36")
    lib = tmp_path / "jars" / "tiny"
    assert not maven.is_resolved(pom, lib)
    assert maven.resolve(pom, lib) == lib.resolve()
    assert [p.name for p in maven.jars(lib)] == ["slf4j-api-1.7.36.jar"]
    assert maven.is_resolved(pom, lib)

    # cached: no Maven needed any more (none on PATH now)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert maven.resolve(pom, lib) == lib.resolve()
    monkeypatch.undo()

    _pom(pom, "org.slf4j", "slf4j-api", "1.7.35")
    assert not maven.is_resolved(pom, lib)
    maven.resolve(pom, lib)
    assert [p.name for p in maven.jars(lib)] == ["slf4j-api-1.7.35.jar"]  # replaced, not added
    assert sorted(os.listdir(lib.parent)) == [".tiny.lock", "tiny"]  # no staging left over


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pom = _pom(tmp_path / "pom.xml", "org.slf4j", "slf4j-api", "1.7.36")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MavenNotFound, match="apt-get install maven"):
        maven.resolve(pom, tmp_path / "lib")


def test_an_unresolvable_artifact_fails_with_mavens_output(tmp_path: Path) -> None:
    pom = _pom(tmp_path / "pom.xml", "dev.squall.nonexistent", "nothing-here", "0.0.1")
    with pytest.raises(DependencyResolutionFailed, match="nothing-here"):
        maven.resolve(pom, tmp_path / "lib")
    assert not (tmp_path / "lib").exists()


def _project(root: Path, greeting: str) -> Path:
    """A one-class Maven project (jar packaging) with the extension's build layout."""
    pom = _POM.format(group="org.slf4j", artifact="slf4j-api", version="1.7.36")
    pom = pom.replace("<packaging>pom</packaging>", "<packaging>jar</packaging>")
    pom = pom.replace(
        "<build>",
        "<properties><maven.compiler.source>17</maven.compiler.source>"
        "<maven.compiler.target>17</maven.compiler.target>"
        "<squall.build>${project.basedir}/target</squall.build></properties>"
        "<build><directory>${squall.build}</directory>",
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "pom.xml").write_text(pom)
    source = root / "src" / "main" / "java" / "Hello.java"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(f'public class Hello {{ String hi() {{ return "{greeting}"; }} }}\n')
    return root


def test_builds_a_project_with_its_runtime_jars_and_again_when_a_source_changes(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path / "tiny", "hello")
    lib = tmp_path / "jars" / "tiny"
    assert maven.build(project, lib) == lib.resolve()
    assert [p.name for p in maven.jars(lib)] == ["slf4j-api-1.7.36.jar", "tiny-1.jar"]
    assert maven.is_built(project, lib)
    assert not (project / "target").exists()  # Maven's scratch files stay out of the sources
    _project(project, "hi there")
    assert not maven.is_built(project, lib)
    maven.build(project, lib)
    assert maven.is_built(project, lib)


def test_code_that_does_not_compile_says_so(tmp_path: Path) -> None:
    project = _project(tmp_path / "broken", "x")
    (project / "src/main/java/Hello.java").write_text("public class Hello { nope }\n")
    with pytest.raises(DependencyResolutionFailed, match="does the code compile"):
        maven.build(project, tmp_path / "lib")
    assert not (tmp_path / "lib").exists()
