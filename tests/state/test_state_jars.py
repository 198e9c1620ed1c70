"""Issue 16, point 2: resolving the Delta jars into one shared, empty cache is safe concurrently.

The fast test holds the resolution lock in two processes at once (no JVM). The slow one (network
to Maven Central, three JVMs) kills a first start during Ivy's download, then starts two fresh
pipelines on the same empty cache at once: both must complete.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from state_helpers import REPO, env, reap_group, run, start, tiny_pipeline

from harness.spark.jars import delta_coordinate, mark_resolved, resolution_lock
from harness.state import StateLayout

_CONTEND = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from harness.spark.jars import resolution_lock
    from harness.state import StateLayout
    room = Path(sys.argv[1]) / "room"
    with resolution_lock(StateLayout.at(sys.argv[1]), "g:a:1"):
        room.mkdir()          # fails if the other process is inside
        time.sleep(0.3)
        room.rmdir()
    print("ok")
    """
)


@pytest.mark.unit
def test_resolution_lock_lets_one_process_at_a_time_into_the_cache(tmp_path: Path) -> None:
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    environ.pop("HARNESS_IVY_DIR", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONTEND, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=environ
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outputs == ["ok", "ok", "ok"]


@pytest.mark.unit
def test_a_resolved_cache_is_read_without_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_IVY_DIR", str(tmp_path / "ivy"))
    layout = StateLayout.at(tmp_path / "state")
    mark_resolved(layout, delta_coordinate())
    with resolution_lock(layout, delta_coordinate()):
        assert not (tmp_path / "ivy" / ".harness-resolve.lock").exists()


@pytest.mark.spark
@pytest.mark.slow
def test_two_fresh_pipelines_share_one_empty_jar_cache_after_a_killed_download(tmp_path: Path) -> None:
    ivy = tmp_path / "ivy"  # empty: Ivy downloads the Delta jars from Maven Central
    environ = env(HARNESS_IVY_DIR=str(ivy))
    root, settings_a = tiny_pipeline(tmp_path / "a", "jars_a")
    _, settings_b = tiny_pipeline(tmp_path / "b", "jars_b")

    killed = start(
        ["run", str(root), "--settings", str(settings_a), "--state", str(tmp_path / "s0")], environ
    )
    deadline = time.monotonic() + 120
    while not any(ivy.glob("cache/**/*.jar")) and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.05)
    reap_group(killed.pid)  # SIGKILL in the middle of Ivy's download
    killed.wait()

    procs = [
        start(["run", str(root), "--settings", str(s), "--state", str(tmp_path / f"s{i}")], environ)
        for i, s in ((1, settings_a), (2, settings_b))
    ]
    outcomes = [p.communicate(timeout=1200) for p in procs]
    for proc, (_, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err[-3000:]
    again = run(
        [
            "sql",
            "SELECT count(*) AS n FROM evens",
            "--settings",
            str(settings_b),
            "--state",
            str(tmp_path / "s2"),
            "--format",
            "json",
        ],
        environ,
    )
    assert again.returncode == 0 and '"n": 3' in again.stdout, again.stderr[-2000:]
