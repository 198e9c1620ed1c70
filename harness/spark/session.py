"""Build the SparkSession the harness runs pipelines on: Spark + Delta Lake, state under one directory.

Local mode by default; a `spark://` master or a Spark Connect `sc://` remote when given, so the same
code runs on a cluster. Delta jars come through ``spark.jars.packages`` exactly as delta-spark's own
``configure_spark_with_delta_pip`` asks for them (Ivy resolves them from Maven Central once; the Ivy
cache serves later runs). If Ivy cannot reach Maven Central, ``harness.spark.jars`` fetches the same
coordinates with Maven into the state directory and they are passed as ``spark.jars``.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.errors import DeltaJarsUnavailableError
from harness.runtime.crashpoints import crash_point
from harness.spark.catalog_store import save_catalog, store_for
from harness.spark.jars import (
    delta_coordinate,
    fetch_with_maven,
    local_jars,
    mark_resolved,
    resolution_lock,
    resolved_in_ivy,
)
from harness.spark.java import check_java
from harness.spark.targets import SparkTarget
from harness.state import StateLayout

log = logging.getLogger(__name__)

DRIVER_MEMORY_ENV = "HARNESS_DRIVER_MEMORY"
#: Set to 1 to let the JVM write to the console (by default its output goes to <state>/spark/jvm.log).
JVM_CONSOLE_ENV = "HARNESS_SPARK_CONSOLE"

#: Settings that keep a single-machine run fast; every one can be overridden through `extra_conf`.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    # Delta rebuilds table state with 50 partitions by default: far too many for small local tables.
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
}


def delta_session_conf(state: StateLayout, target: SparkTarget) -> dict[str, str]:
    """The Spark configuration the harness sets for a target (pure: unit-tested without a JVM)."""
    conf: dict[str, str] = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    }
    if target.kind == "connect":
        return conf
    conf.update(LOCAL_DEFAULTS)
    if target.ships_delta_jars:
        jars = local_jars(state)
        if jars:
            conf["spark.jars"] = ",".join(str(j) for j in jars)
        else:
            conf["spark.jars.packages"] = delta_coordinate()
            conf["spark.jars.ivy"] = str(state.ivy_dir)
    if target.uses_local_metastore:
        # Spark's in-memory catalog, kept across processes by harness.spark.catalog_store (no
        # Derby: a kill cannot corrupt it, and readers can open a state while an update runs).
        conf["spark.sql.catalogImplementation"] = "in-memory"
        conf["spark.sql.warehouse.dir"] = str(state.warehouse_dir)
    if target.configures_jvm:
        conf["spark.driver.extraJavaOptions"] = f"-Djava.io.tmpdir={state.tmp_dir}"
        conf["spark.executor.extraJavaOptions"] = f"-Djava.io.tmpdir={state.tmp_dir}"
        conf["spark.local.dir"] = str(state.tmp_dir)
        conf["spark.driver.memory"] = os.environ.get(DRIVER_MEMORY_ENV, "3g")
    return conf


def _prepare_dirs(state: StateLayout, target: SparkTarget) -> None:
    if target.kind == "connect":
        return
    for path in (state.warehouse_dir, state.tmp_dir, state.ivy_dir):
        path.mkdir(parents=True, exist_ok=True)


def create_session(
    state: StateLayout | str | os.PathLike[str] | None = None,
    master: str | None = None,
    app_name: str = "local-dlt-harness",
    extra_conf: Mapping[str, str] | None = None,
):  # -> pyspark.sql.SparkSession (imported lazily: pure callers need no JVM)
    """Create (or return the active) SparkSession configured for the harness.

    Raises JavaNotFoundError / JavaVersionError before launching a JVM that could not start, and
    DeltaJarsUnavailableError when the Delta jars can neither be resolved nor found locally.
    """
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    layout = state if isinstance(state, StateLayout) else StateLayout.at(state)
    target = SparkTarget.from_url(master)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    builder = SparkSession.builder.appName(app_name)
    if target.kind == "connect":
        builder = builder.remote(target.url)
    else:
        check_java()
        builder = builder.master(target.url)
    _prepare_dirs(layout, target)
    conf = delta_session_conf(layout, target)
    conf.update(extra_conf or {})
    for key, value in conf.items():
        builder = builder.config(key, value)
    log.info("starting Spark (%s, %s), state in %s", target.kind, target.url, layout.root)
    jvm_log = layout.spark_dir / "jvm.log"
    packages = conf.get("spark.jars.packages")
    try:
        # Ivy resolves into a cache that HARNESS_IVY_DIR may share between processes: one at a time
        with resolution_lock(layout, packages), _jvm_output_to(jvm_log if target.kind != "connect" else None):
            spark = builder.getOrCreate()
        if packages:
            mark_resolved(layout, packages)
    except PySparkRuntimeError as exc:
        if not packages or resolved_in_ivy(layout):
            raise
        # Ivy could not reach Maven Central: fetch the same coordinate with Maven, pass it as spark.jars.
        log.warning(
            "Ivy could not resolve %s; fetching it with Maven into %s",
            conf["spark.jars.packages"],
            layout.jars_dir,
        )
        try:
            with resolution_lock(layout, packages, force=True):
                jars = local_jars(layout) or fetch_with_maven(layout, packages)
        except DeltaJarsUnavailableError as maven_exc:
            raise DeltaJarsUnavailableError(
                coordinate=conf["spark.jars.packages"],
                cache_dir=str(layout.ivy_dir),
                detail=f"{exc}; Ivy's output: {_tail(jvm_log)}; Maven fallback: {maven_exc.detail}",
            ) from exc
        builder = builder.config("spark.jars.packages", "").config("spark.jars", ",".join(map(str, jars)))
        with _jvm_output_to(jvm_log):
            spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("HARNESS_SPARK_LOG_LEVEL", "FATAL"))
    crash_point("session:started")
    if target.uses_local_metastore:
        _restore_catalog(spark, layout)
        crash_point("session:catalog_restored")
    return spark


def _restore_catalog(spark: Any, layout: StateLayout) -> None:
    """Register the state's saved tables in the new session and save its changes at exit."""
    if (layout.metastore_dir / "metastore_db").exists():
        log.info(
            "%s is no longer used (the catalog is now %s); it can be deleted",
            layout.metastore_dir,
            layout.spark_dir / "catalog.json",
        )
    store_for(layout).restore(spark)
    atexit.register(_save_at_exit, spark)


def _save_at_exit(spark: Any) -> None:
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:  # stop_session() already saved otherwise
        save_catalog(spark)


@contextmanager
def _jvm_output_to(path: Path | None) -> Iterator[None]:
    """Send what the JVM launcher writes (Ivy's resolution report, log4j start-up lines) to a file.

    pyspark starts the JVM as a child process that inherits file descriptor 2, so pointing fd 2 at
    the log while the gateway starts keeps the console for the harness's own output. The JVM keeps
    writing there for its whole life; Python's own stderr is restored at once.
    """
    if path is None or os.environ.get(JVM_CONSOLE_ENV) == "1":
        yield
        return
    import sys

    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no JVM log)"


def stop_session() -> None:
    """Stop the active session (tests and the CLI call this on exit)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        save_catalog(active)
        active.stop()


def state_paths_used(spark) -> dict[str, Path]:
    """Where this session keeps warehouse and temp files (for the README's troubleshooting)."""
    conf = spark.sparkContext.getConf()
    return {
        "warehouse": Path(conf.get("spark.sql.warehouse.dir", "")),
        "tmp": Path(conf.get("spark.local.dir", "")),
    }
