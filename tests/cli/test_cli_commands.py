"""Issue 3, point 8: the `harness` console script and the pytest plugin, as users run them.

Two subprocesses start a JVM (`harness run`, `harness sql`); `harness path` needs none. The pytest
plugin is exercised by running pytest in-process on a tiny project, so its `dlt_spark` fixture
reuses the shared session instead of starting another JVM.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.cli.main import main

PIPELINE = """
    import dlt

    @dlt.table
    def good():
        return spark.range(3)

    @dlt.table
    @dlt.expect_or_fail("small", "id < 1")
    def bad():
        return spark.range(2)
"""


def harness_exe() -> str:
    exe = shutil.which("harness", path=str(Path(sys.executable).parent)) or shutil.which("harness")
    assert exe, "the `harness` console script is not installed"
    return exe


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("cli")
    root = base / "proj"
    (root / "transformations").mkdir(parents=True)
    (root / "transformations" / "p.py").write_text(textwrap.dedent(PIPELINE))
    settings = base / "settings.json"
    settings.write_text(
        json.dumps(
            {
                "name": "cli_demo",
                "catalog": "main",
                "schema": "cli_demo",
                "libraries": [{"glob": {"include": "transformations/**"}}],
            }
        )
    )
    env = dict(os.environ)
    state = base / "state"
    run = subprocess.run(
        [harness_exe(), "run", str(root), "--settings", str(settings), "--state", str(state)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    query = (
        "SELECT (SELECT count(*) FROM LIVE.good) AS good_rows, "
        "(SELECT count(*) FROM event_log WHERE event_type = 'create_update') AS updates, "
        "(SELECT max(get_json_object(details, '$.flow_progress.status')) FROM event_log "
        "WHERE origin.flow_name = 'bad' AND level = 'ERROR') AS bad_status"
    )
    sql = subprocess.run(
        [harness_exe(), "sql", query, "--settings", str(settings), "--state", str(state), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    return {"run": run, "sql": sql, "state": state}


@pytest.mark.spark
def test_run_prints_progress_and_summary_and_fails_with_the_reason(cli_project: dict[str, Any]) -> None:
    run = cli_project["run"]
    assert run.returncode == 1, run.stderr[-2000:]
    progress = run.stderr
    assert "RUNNING" in progress and "COMPLETED" in progress and "FAILED" in progress
    summary = run.stdout
    good = next(line for line in summary.splitlines() if line.startswith("good "))
    assert "COMPLETED" in good and good.split()[3] == "3"
    assert "2 flows" in summary and "FAILED" in summary
    error = next(line for line in run.stderr.splitlines() if line.startswith("Error: update"))
    assert "bad" in error and "small" in error  # names the flow and the expectation


@pytest.mark.spark
def test_sql_json_returns_rows_over_tables_and_the_event_log(cli_project: dict[str, Any]) -> None:
    sql = cli_project["sql"]
    assert sql.returncode == 0, sql.stderr[-2000:]
    assert json.loads(sql.stdout.strip().splitlines()[-1]) == [
        {"good_rows": 3, "updates": 1, "bad_status": "FAILED"}
    ]


@pytest.mark.unit
def test_path_prints_the_local_folder_for_a_volume_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["path", "/Volumes/main/sales/landing/orders", "--state", str(tmp_path), "--create"]) == 0
    expected = tmp_path.resolve() / "volumes" / "main" / "sales" / "landing" / "orders"
    assert capsys.readouterr().out.strip() == str(expected)
    assert expected.is_dir()


@pytest.mark.unit
def test_path_rejects_a_malformed_volume_path_with_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["path", "/Volumes/main", "--state", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("Error: Invalid volume path")


@pytest.mark.unit
def test_console_script_path_command(tmp_path: Path) -> None:
    out = subprocess.run(
        [harness_exe(), "path", "/Volumes/c/s/v/file.json", "--state", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == str(tmp_path.resolve() / "volumes" / "c" / "s" / "v" / "file.json")


PLUGIN_TEST = '''
import textwrap


def test_user_project(dlt_pipeline, tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "p.py").write_text(textwrap.dedent("""
        import dlt

        @dlt.table
        @dlt.expect_or_drop("even", "id % 2 = 0")
        def evens():
            return spark.range(6)
    """))
    pipeline = dlt_pipeline(root, {"name": "plugin_demo", "schema": "plugin_demo",
                                   "libraries": [{"file": {"path": "p.py"}}]})
    result = pipeline.run()
    assert result.status == "COMPLETED", result.error
    assert sorted(r.id for r in pipeline.table("evens").collect()) == [0, 2, 4]
    assert result.flows["evens"].dropped_records == 3
'''


@pytest.mark.spark
def test_pytest_plugin_fixtures_run_a_users_pipeline(spark: Any, tmp_path: Path) -> None:
    project = tmp_path / "user_project"
    project.mkdir()
    (project / "test_user_dlt_project.py").write_text(PLUGIN_TEST)
    code = pytest.main(
        [
            str(project),
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(project),
            "--basetemp",
            str(tmp_path / "inner_tmp"),
            "-o",
            "addopts=",
        ]
    )
    assert code == 0
