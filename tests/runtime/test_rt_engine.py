"""Issue 15, point 4: the warm engine (`harness dev`) and the per-pipeline update lock.

The unit tests need no JVM. The spark test drives the real socket protocol in-process: a client
thread sends `harness run` / `harness sql` command lines, the test's session serves them on the main
thread exactly as `harness dev` does, and the answers carry the commands' own output.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.engine import ChangeWatcher, EngineServer, call_engine, serve_one
from harness.runtime.pipeline_lock import pipeline_lock
from harness.state import StateLayout


@pytest.mark.unit
def test_the_watcher_reports_saved_sources_and_new_inputs_once(tmp_path: Path) -> None:
    source = tmp_path / "src" / "orders.py"
    source.parent.mkdir()
    source.write_text("a = 1\n")
    inputs = tmp_path / "landing"
    watcher = ChangeWatcher(lambda: [source], [inputs])
    watcher.prime()
    assert watcher.changed() == []
    source.write_text("a = 22\n")  # saved with a different size
    inputs.mkdir()
    (inputs / "b1.json").write_text("{}\n")
    (inputs / ".partial").write_text("")  # hidden files (in-progress copies) are not inputs
    assert watcher.changed() == [inputs / "b1.json", source]
    assert watcher.changed() == []


@pytest.mark.unit
def test_no_engine_means_the_command_runs_itself(tmp_path: Path) -> None:
    assert call_engine(tmp_path / "engine.sock", ["sql", "SELECT 1"]) is None
    (tmp_path / "stale.sock").write_text("")  # a socket file left by a killed engine
    assert call_engine(tmp_path / "stale.sock", ["sql", "SELECT 1"]) is None


@pytest.mark.unit
def test_a_long_state_path_still_gets_a_usable_socket_path(tmp_path: Path) -> None:
    layout = StateLayout.at(tmp_path / ("x" * 120))
    assert len(str(layout.engine_socket)) < 100
    assert layout.engine_socket == StateLayout.at(tmp_path / ("x" * 120)).engine_socket


@pytest.mark.unit
def test_the_update_lock_excludes_a_second_holder_until_released(tmp_path: Path) -> None:
    layout = StateLayout.at(tmp_path)
    path = layout.update_lock("p")
    with pipeline_lock(layout, "p"):
        other = os.open(path, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    other = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(other)


PIPELINE = """
import dlt

@dlt.table
def numbers():
    return spark.range(3).selectExpr("id", "id * 10 AS tens")
"""


@pytest.mark.spark
def test_run_and_sql_are_served_by_the_warm_engine(spark: Any, tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "transformations").mkdir(parents=True)
    (root / "transformations" / "numbers.py").write_text(PIPELINE)
    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps(
            {
                "name": "rt_engine",
                "catalog": "main",
                "schema": "rt_engine",
                "libraries": [{"glob": {"include": "transformations/**"}}],
            }
        )
    )
    state = tmp_path / "state"
    server = EngineServer(StateLayout.at(state).engine_socket)
    server.start()
    answers: dict[str, Any] = {}

    def client() -> None:
        base = ["--state", str(state)]
        answers["run"] = call_engine(server.sock_path, ["run", str(root), "--settings", str(settings), *base])
        answers["sql"] = call_engine(
            server.sock_path,
            [
                "sql",
                "SELECT sum(tens) AS s FROM numbers",
                "--settings",
                str(settings),
                "--format",
                "json",
                *base,
            ],
        )

    thread = threading.Thread(target=client)
    thread.start()
    try:
        served = 0
        while thread.is_alive() and served < 2:
            served += serve_one(server, spark, timeout=1.0)
        thread.join()
    finally:
        server.close()
    assert answers["run"]["exit"] == 0, answers["run"]["stderr"]
    assert "COMPLETED" in answers["run"]["stdout"] and "numbers" in answers["run"]["stdout"]
    assert answers["sql"]["exit"] == 0, answers["sql"]["stderr"]
    assert json.loads(answers["sql"]["stdout"]) == [{"s": 30}]
    assert not server.sock_path.exists()
