"""How the session gets the Delta jars, and the error when it cannot."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from harness.spark.jars import JARS_ENV, delta_coordinate, local_jars
from harness.spark.session import delta_session_conf
from harness.spark.targets import SparkTarget
from harness.state import StateLayout


@pytest.mark.unit
def test_coordinate_matches_the_installed_pyspark_and_delta_pair() -> None:
    spark_minor = ".".join(metadata.version("pyspark").split(".")[:2])
    assert delta_coordinate() == f"io.delta:delta-spark_{spark_minor}_2.13:{metadata.version('delta-spark')}"


@pytest.mark.unit
def test_local_sessions_resolve_packages_into_the_state_ivy_cache(tmp_path: Path) -> None:
    layout = StateLayout.at(tmp_path)
    conf = delta_session_conf(layout, SparkTarget.from_url(None))

    assert conf["spark.jars.packages"] == delta_coordinate()
    assert conf["spark.jars.ivy"] == str(layout.ivy_dir)
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.shuffle.partitions"] == "2"
    # everything Spark writes stays under the state directory
    for key in ("spark.sql.warehouse.dir", "spark.local.dir"):
        assert conf[key].startswith(str(tmp_path))
    # the catalog is Spark's in-memory one, kept in <state>/spark/catalog.json (no Derby to corrupt)
    assert conf["spark.sql.catalogImplementation"] == "in-memory"
    assert not any("derby" in value or "jdo" in key for key, value in conf.items())


@pytest.mark.unit
def test_preseeded_jars_replace_package_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jar = tmp_path / "delta-spark.jar"
    jar.write_bytes(b"")
    monkeypatch.setenv(JARS_ENV, str(jar))
    layout = StateLayout.at(tmp_path / "state")

    conf = delta_session_conf(layout, SparkTarget.from_url(None))

    assert local_jars(layout) == [jar]
    assert conf["spark.jars"] == str(jar)
    assert "spark.jars.packages" not in conf


@pytest.mark.unit
def test_connect_remotes_get_no_local_jvm_settings(tmp_path: Path) -> None:
    conf = delta_session_conf(StateLayout.at(tmp_path), SparkTarget.from_url("sc://spark.example:15002"))

    assert "spark.jars.packages" not in conf and "spark.sql.warehouse.dir" not in conf


_UNRESOLVABLE = textwrap.dedent(
    """
    import sys
    import harness.spark.session as session
    from harness.errors import DeltaJarsUnavailableError

    session.delta_coordinate = lambda: "io.delta:delta-spark_4.1_2.13:0.0.0-does-not-exist"
    try:
        session.create_session(sys.argv[1])
    except DeltaJarsUnavailableError as exc:
        print("COORDINATE=" + exc.fields["coordinate"])
        print("CACHE=" + exc.fields["cache_dir"])
        print("MESSAGE=" + str(exc).replace("\\n", " "))
        sys.exit(3)
    sys.exit(0)
    """
)


@pytest.mark.spark
def test_unresolvable_delta_jars_name_the_coordinate_and_the_cache(tmp_path: Path) -> None:
    """A real JVM start: Ivy fails, the Maven fallback fails too, the error says what and where."""
    env = {k: v for k, v in os.environ.items() if k != JARS_ENV}
    env["HARNESS_IVY_DIR"] = str(tmp_path / "ivy")
    done = subprocess.run(
        [sys.executable, "-c", _UNRESOLVABLE, str(tmp_path / "state")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )

    assert done.returncode == 3, done.stdout + done.stderr[-3000:]
    out = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert out["COORDINATE"] == "io.delta:delta-spark_4.1_2.13:0.0.0-does-not-exist"
    assert out["CACHE"] == str(tmp_path / "ivy")
    assert "HARNESS_SPARK_JARS" in out["MESSAGE"]  # says how to pre-seed an air-gapped machine
