"""What each compose image holds beyond Debian's packages, resolved in one place.

``prepare`` puts everything an image needs into ``deploy/.context/<image>/`` (gitignored);
the image's ``resolve`` stage (deploy/docker/resolve.sh) then copies it. It runs either on
the host (``squall compose build``: nothing is downloaded inside the build, as air-gapped
sites and hosts whose builds cannot trust HTTPS need) or, when no context was resolved on
the host, inside that stage (``python -m squall.deploy.compose.context IMAGE``: a plain
``docker compose build`` from a fresh clone). Per image:

* ``squall``: the wheels of Squall's dependencies (``pip wheel``, once per dependency
  list) and of Squall itself (rebuilt when a source file changed), and the apache_logs
  sample the ``demo`` service replays;
* ``kafka``: Kafka's jars (``deploy.stack.maven`` on ``poms/kafka``, the local stack's
  pom), ``server.properties`` for the single node and each ``cluster`` node, generated
  by ``deploy.stack.kafka.server_properties``, and the start script;
* ``druid``: Druid's jars (``poms/druid``, ZooKeeper's included), Squall's PostgreSQL
  metadata extension (deploy/druid/postgresql-metadata, built by ``deploy.stack.maven``),
  the configuration written by ``deploy.stack.druid_conf.write_conf`` with the containers'
  paths and addresses and ``druid_conf.postgresql_metadata`` (the ``postgres`` service),
  ``zoo.cfg``, and one start script per service whose java command line is
  ``deploy.stack.process.JvmService.command``: the local stack's, with other paths.

The ``postgres`` image holds nothing but Debian's packages and its start script
(deploy/docker/postgres.sh): it builds from the repository's root, with nothing to resolve.

Files are replaced only when their content changes, so Docker's layer cache holds and a
rebuild with nothing changed takes seconds. Dependencies sit in layers before sources.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from squall.deploy.exceptions import DependencyResolutionFailed
from squall.deploy.stack import POMS, StackPaths, druid_conf, kafka, maven, process, zookeeper

__all__ = [
    "CLUSTER_KAFKA_NODES",
    "DEPLOY",
    "IMAGES",
    "METADATA_CLIENTS",
    "POSTGRESQL_EXTENSION_PROJECT",
    "POSTGRES_SECRET",
    "ROOT",
    "build_contexts",
    "context_dir",
    "digest",
    "prepare",
]

DEPLOY = Path(__file__).resolve().parents[1]
ROOT = DEPLOY.parent
CLUSTER_KAFKA_NODES = 3
IMAGES = ("squall", "kafka", "druid")
_KAFKA_HOME = Path("/opt/kafka")
_DRUID_HOME = Path("/opt/druid")
_DRUID_VAR = Path("/var/lib/druid")
POSTGRESQL_EXTENSION_PROJECT = DEPLOY / "druid" / "postgresql-metadata"
POSTGRES_SECRET = Path("/var/lib/postgres-secret/password")
"""Where the postgres service writes the password it generates when POSTGRES_PASSWORD is
empty (a named volume the Druid services mount read-only)."""
METADATA_CLIENTS = ("coordinator", "broker", "historical", "indexer")
"""The Druid services that get the metadata store's password."""


def context_dir(image: str) -> Path:
    return DEPLOY / ".context" / image


def _write(path: Path, content: str | bytes, mode: int = 0o644) -> None:
    """Write ``path`` only when its content differs (keeps mtimes and the layer cache)."""
    data = content.encode() if isinstance(content, str) else content
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def _sync_dir(source: Path, target: Path) -> None:
    """``target`` holds exactly ``source``'s files (hard links when possible)."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = {p.name for p in source.iterdir() if p.is_file() and not p.name.startswith(".")}
    for stale in target.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for name in wanted:
        dst = target / name
        if dst.is_file() and dst.stat().st_size == (source / name).stat().st_size:
            continue
        try:
            dst.hardlink_to(source / name)
        except OSError:
            shutil.copy2(source / name, dst)


def _pip(args: list[str], what: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=1800,
    )
    if done.returncode != 0:
        raise DependencyResolutionFailed(
            f"pip could not {what} (exit {done.returncode}); is PyPI reachable?\n"
            + done.stderr[-3000:]
        )


def _source_hash() -> str:
    digest = hashlib.sha256()
    for top in ("pyproject.toml", "squall", "ingest", "compute", "serve", "deploy"):
        base = ROOT / top
        files = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts and ".context" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _squall(out: Path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = sorted(project["dependencies"])
    deps_dir, own_dir = out / "wheels" / "deps", out / "wheels" / "squall"
    stamp = deps_dir / ".requirements"
    if not (stamp.is_file() and stamp.read_text() == "\n".join(deps)):
        shutil.rmtree(deps_dir, ignore_errors=True)
        deps_dir.mkdir(parents=True)
        _pip(["wheel", "--quiet", "--wheel-dir", str(deps_dir), *deps], "build the wheels")
        stamp.write_text("\n".join(deps))
    source = _source_hash()
    own_stamp = out / "wheels" / ".squall-source"
    if not (own_stamp.is_file() and own_stamp.read_text() == source):
        shutil.rmtree(own_dir, ignore_errors=True)
        _pip(
            ["wheel", "--quiet", "--no-deps", "--wheel-dir", str(own_dir), str(ROOT)],
            "build Squall's wheel",
        )
        own_stamp.write_text(source)
    _write(out / "data" / "apache_logs", (ROOT / "tests" / "data" / "apache_logs").read_bytes())


def _run_script(command: list[str], pre: str = "") -> str:
    """A POSIX start script that runs ``pre`` then execs ``command``; a part holding a
    ``$`` is expanded by the shell at start (e.g. ``-Ddruid.host=$DRUID_HOST``)."""
    quoted = " ".join(f'"{part}"' if "$" in part else shlex.quote(part) for part in command)
    head = "#!/bin/sh\n# generated by `squall compose build`; edits are overwritten\nset -e\n"
    return f"{head}{pre}exec {quoted}\n"


def _kafka(out: Path, where: StackPaths) -> None:
    lib = maven.resolve(
        POMS / "kafka" / "pom.xml", where.lib_dir("kafka"), maven_repo=where.maven_repo
    )
    _sync_dir(lib, out / "lib")
    data = Path("/var/lib/kafka/data")
    listen = "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093"
    _write(
        out / "conf" / "single.properties",
        kafka.server_properties(
            listeners=listen,
            advertised="PLAINTEXT://kafka:9092,CONTROLLER://kafka:9093",
            quorum="kafka:9093",
            log_dir=data,
            written_by="squall compose build",
        ),
    )
    # the cluster profile's nodes: the `kafka` service is node 1, kafka-2 and kafka-3 join it
    hosts = {n: "kafka" if n == 1 else f"kafka-{n}" for n in range(1, CLUSTER_KAFKA_NODES + 1)}
    voters = ",".join(f"{n}@{host}:9093" for n, host in hosts.items())
    for node, host in hosts.items():
        _write(
            out / "conf" / f"cluster-{node}.properties",
            kafka.server_properties(
                listeners=listen,
                advertised=f"PLAINTEXT://{host}:9092,CONTROLLER://{host}:9093",
                quorum="",
                voters=voters,
                log_dir=data,
                node_id=node,
                replication=3,
                min_insync=2,
                written_by="squall compose build",
            ),
        )
    _write(out / "conf" / "log4j2.xml", _KAFKA_LOG4J2)
    cp = f"{_KAFKA_HOME}/lib/*"
    log4j = f"-Dlog4j2.configurationFile={_KAFKA_HOME}/conf/log4j2.xml"
    # KAFKA_NODE picks the properties: cluster-N; or, for the `kafka` service, the value
    # of COMPOSE_PROFILES: cluster-1 when it names the cluster profile, else single (a
    # standalone dynamic quorum). The storage is formatted once.
    pre = (
        'case "$KAFKA_NODE" in\n'
        "  cluster-[0-9]*) args= ;;\n"
        "  *cluster*) KAFKA_NODE=cluster-1; args= ;;\n"
        "  *) KAFKA_NODE=single; args=--standalone ;;\n"
        "esac\n"
        f'conf="{_KAFKA_HOME}/conf/$KAFKA_NODE.properties"\n'
        f"if [ ! -f {data}/meta.properties ]; then\n"
        f"  java {log4j} -cp {shlex.quote(cp)} kafka.tools.StorageTool format"
        ' --cluster-id="$KAFKA_CLUSTER_ID" --config="$conf" $args -g\n'
        "fi\n"
    )
    command = [
        "java",
        "-Xms$KAFKA_HEAP",
        "-Xmx$KAFKA_HEAP",
        *kafka.JVM_OPTIONS,
        log4j,
        "-cp",
        cp,
        "kafka.Kafka",
        "$conf",
    ]
    _write(out / "run.sh", _run_script(command, pre), 0o755)


_KAFKA_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<!-- written by squall compose build: Kafka logs to the container's output -->
<Configuration status="WARN">
  <Appenders>
    <Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="out"/></Root>
  </Loggers>
</Configuration>
"""


def _druid(out: Path, where: StackPaths) -> None:
    lib = maven.resolve(
        POMS / "druid" / "pom.xml", where.lib_dir("druid"), maven_repo=where.maven_repo
    )
    _sync_dir(lib, out / "lib")
    extension = maven.build(
        POSTGRESQL_EXTENSION_PROJECT,
        where.lib_dir(druid_conf.POSTGRESQL_EXTENSION),
        maven_repo=where.maven_repo,
    )
    _sync_dir(extension, out / "extensions" / druid_conf.POSTGRESQL_EXTENSION)
    staging = out / ".conf-staging"
    shutil.rmtree(staging, ignore_errors=True)
    druid_conf.write_conf(
        staging,
        _DRUID_VAR,
        "zookeeper:2181",
        overrides={
            "druid.host": "",  # each container sets its own address at start
            "druid.bindOnHost": "false",
            **druid_conf.postgresql_metadata("postgres", _DRUID_HOME / "extensions"),
        },
        make_dirs=False,
    )
    for path in sorted(staging.rglob("*")):
        if path.is_file():
            _write(out / "conf" / path.relative_to(staging), path.read_bytes())
    shutil.rmtree(staging)
    for svc in druid_conf.SERVICES:
        jvm = process.JvmService(
            name=f"druid-{svc.name}",
            main_class="org.apache.druid.cli.Main",
            classpath=[
                _DRUID_HOME / "conf" / svc.name,
                _DRUID_HOME / "conf" / "_common",
                f"{_DRUID_HOME}/lib/*",
            ],
            run_dir=_DRUID_VAR,
            args=["server", svc.name],
            heap=svc.heap,
            jvm_options=[
                f"-XX:MaxDirectMemorySize={svc.direct}",
                *druid_conf.JAVA_OPTIONS,
                f"-Djava.io.tmpdir={_DRUID_VAR / 'tmp'}",
                f"-Dlog4j2.configurationFile={_DRUID_HOME / 'conf' / '_common' / 'log4j2.xml'}",
                f"-Ddruid.node.name={svc.name}",
                "-Ddruid.host=$DRUID_HOST",
            ],
        )
        pre = (
            f"mkdir -p {' '.join(str(_DRUID_VAR / d) for d in _DRUID_DIRS)}\n"
            # the container's hostname (compose sets it to the service's name): a restarted
            # container keeps it where its IP changes, so the overlord sees the indexer it
            # knew come back, not a stranger while the old one still holds its tasks
            'DRUID_HOST="$(hostname)"\n'
        )
        if svc.name in METADATA_CLIENTS:
            pre += _METADATA_PASSWORD
        _write(out / f"run-{svc.name}.sh", _run_script(jvm.command("java"), pre), 0o755)
    zk = process.JvmService(
        name="zookeeper",
        main_class="org.apache.zookeeper.server.ZooKeeperServerMain",
        classpath=[f"{_DRUID_HOME}/lib/*"],
        run_dir=Path("/var/lib/zookeeper"),
        args=[str(_DRUID_HOME / "zookeeper" / "zoo.cfg")],
        heap=zookeeper.HEAP,
        jvm_options=[
            f"-Dlog4j2.configurationFile={_DRUID_HOME / 'conf' / '_common' / 'log4j2.xml'}",
            "-Dzookeeper.admin.enableServer=false",
        ],
    )
    _write(
        out / "zookeeper" / "zoo.cfg",
        zookeeper.zoo_cfg(Path("/var/lib/zookeeper/data"), "0.0.0.0", zookeeper.PORT),
    )
    _write(out / "run-zookeeper.sh", _run_script(zk.command("java")), 0o755)


_DRUID_DIRS = ("tmp", "task", "segments", "segment-cache", "indexing-logs")
_METADATA_PASSWORD = (
    "# the metadata store's password: POSTGRES_PASSWORD (deploy/.env), else the one the\n"
    "# postgres service generated; Druid reads the variable (an environment password provider)\n"
    'if [ -z "${POSTGRES_PASSWORD:-}" ]; then\n'
    f'  POSTGRES_PASSWORD="$(cat {POSTGRES_SECRET})" || {{\n'
    f'    echo "no POSTGRES_PASSWORD and no readable {POSTGRES_SECRET}: mount the volume'
    ' postgres-secret (the postgres service writes it) or set POSTGRES_PASSWORD" >&2\n'
    "    exit 1\n"
    "  }\n"
    "fi\n"
    "export POSTGRES_PASSWORD\n"
)


def prepare(where: StackPaths, images: tuple[str, ...] = IMAGES) -> None:
    """Fill ``deploy/.context/<image>`` for each of ``images`` (see the module docstring)."""
    for image in images:
        out = context_dir(image)
        out.mkdir(parents=True, exist_ok=True)
        if image == "squall":
            _squall(out)
        elif image == "kafka":
            _kafka(out, where)
        else:
            _druid(out, where)
        # the context is the whole build context of the image (see build_context): its
        # Dockerfile at the repository's path, and a mark its `resolve` stage looks for
        dockerfile = DEPLOY / "docker" / f"{image}.Dockerfile"
        _write(out / dockerfile.relative_to(ROOT), dockerfile.read_bytes())
        (out / "deploy" / "certs").mkdir(parents=True, exist_ok=True)
        _write(out / ".complete", f"written by squall compose build for {image}\n")


def digest(image: str) -> str:
    """A fingerprint of ``image``'s context as ``prepare`` left it: the path, size, mode and
    mtime of every file. ``prepare`` rewrites only what changed, so an unchanged fingerprint
    means an unchanged context, and the image built from it can stand (see project.build)."""
    h = hashlib.sha256()
    root = context_dir(image)
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            h.update(
                f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mode}\0{st.st_mtime_ns}\n".encode()
            )
    return h.hexdigest()


def build_contexts() -> dict[str, str]:
    """The compose file's build-context variables pointing at the contexts ``prepare``
    completed (unset, each image builds from the repository's root and resolves online)."""
    return {
        f"SQUALL_{image.upper()}_CONTEXT": str(context_dir(image))
        for image in IMAGES
        if (context_dir(image) / ".complete").is_file()
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m squall.deploy.compose.context [IMAGE ...]``: what an image's build runs
    when no context was resolved on the host (deploy/docker/resolve.sh)."""
    import argparse

    from squall.deploy.stack import paths
    from squall.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m squall.deploy.compose.context")
    parser.add_argument("images", nargs="*", choices=IMAGES, default=list(IMAGES))
    args = parser.parse_args(argv)
    prepare(paths(load_settings()), tuple(args.images))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
