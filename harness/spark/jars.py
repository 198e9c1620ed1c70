"""The Delta Lake jars: their Maven coordinate, the Ivy cache, and a Maven fallback.

Users get ``spark.jars.packages`` (what delta-spark's ``configure_spark_with_delta_pip`` sets).
When Spark's Ivy cannot reach Maven Central on a machine, `fetch_with_maven` copies the same
coordinate and its dependencies into ``<state>/jars`` with ``mvn dependency:copy-dependencies``;
from then on the session passes those files as ``spark.jars``. ``HARNESS_SPARK_JARS`` (a
comma-separated list of jar paths) pre-seeds air-gapped machines.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from harness.errors import DeltaJarsUnavailableError
from harness.state import StateLayout

log = logging.getLogger(__name__)

JARS_ENV = "HARNESS_SPARK_JARS"
SCALA_VERSION = "2.13"


def delta_coordinate(pyspark_version: str | None = None, delta_version: str | None = None) -> str:
    """io.delta:delta-spark_<spark major.minor>_<scala>:<delta version>, as delta-spark's helper builds it."""
    spark_version = pyspark_version or metadata.version("pyspark")
    delta = delta_version or metadata.version("delta-spark")
    major_minor = ".".join(spark_version.split(".")[:2])
    return f"io.delta:delta-spark_{major_minor}_{SCALA_VERSION}:{delta}"


def _jar_file_name(coordinate: str) -> str:
    group, artifact, version = coordinate.split(":")
    return f"{group}_{artifact}-{version}.jar"


def resolved_in_ivy(state: StateLayout, coordinate: str | None = None) -> bool:
    """True when Ivy has already retrieved the Delta jar into the cache (offline runs will work)."""
    return (state.ivy_dir / "jars" / _jar_file_name(coordinate or delta_coordinate())).is_file()


def local_jars(state: StateLayout) -> list[Path]:
    """Jars to pass as spark.jars instead of resolving packages: HARNESS_SPARK_JARS or <state>/jars."""
    explicit = os.environ.get(JARS_ENV)
    if explicit:
        return [Path(p).expanduser() for p in explicit.split(",") if p.strip()]
    marker = state.jars_dir / "COORDINATE"
    if marker.is_file() and marker.read_text().strip() == delta_coordinate():
        return sorted(state.jars_dir.glob("*.jar"))
    return []


def _resolved_marker(state: StateLayout, coordinate: str) -> Path:
    return state.ivy_dir / f".harness-resolved-{coordinate.replace(':', '_')}"


def mark_resolved(state: StateLayout, coordinate: str) -> None:
    """Record that a session started with ``coordinate`` resolved from this Ivy cache."""
    marker = _resolved_marker(state, coordinate)
    if not marker.exists():
        tmp = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(coordinate)
        os.replace(tmp, marker)


@contextlib.contextmanager
def resolution_lock(state: StateLayout, coordinate: str | None, *, force: bool = False) -> Iterator[None]:
    """Hold the Ivy cache (and ``<state>/jars``) for one process while it resolves ``coordinate``.

    Two first starts on one empty cache (two terminals, or two pipelines sharing HARNESS_IVY_DIR)
    otherwise download into the same files at once and one of them fails (issue 16). Once a session
    has started from the cache, later starts only read it and skip the lock (unless ``force``). The
    OS releases the lock when its holder dies, so a killed start never leaves it held.
    """
    if not coordinate or (not force and _resolved_marker(state, coordinate).exists()):
        yield
        return
    lock_file = state.ivy_dir / ".harness-resolve.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is resolving the Delta jars into %s; waiting for it", state.ivy_dir)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.harness</groupId><artifactId>delta-jars</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version></dependency>
  </dependencies>
</project>
"""


def fetch_with_maven(state: StateLayout, coordinate: str | None = None) -> list[Path]:
    """Copy the Delta jar and its runtime dependencies into <state>/jars with Maven."""
    coordinate = coordinate or delta_coordinate()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DeltaJarsUnavailableError(
            coordinate, str(state.ivy_dir), "Ivy failed and `mvn` is not installed"
        )
    group, artifact, version = coordinate.split(":")
    work = state.jars_dir / "_maven"
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(_POM.format(group=group, artifact=artifact, version=version))
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(work / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            # Spark already ships Scala and its own libraries.
            "-DexcludeGroupIds=org.scala-lang,org.apache.spark",
            f"-DoutputDirectory={state.jars_dir}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise DeltaJarsUnavailableError(
            coordinate, str(state.jars_dir), result.stdout[-2000:] + result.stderr[-2000:]
        )
    # the marker last, replaced atomically: a kill before it leaves jars that are not used
    marker = state.jars_dir / "COORDINATE"
    marker.with_name("COORDINATE.tmp").write_text(coordinate)
    os.replace(marker.with_name("COORDINATE.tmp"), marker)
    return sorted(state.jars_dir.glob("*.jar"))
