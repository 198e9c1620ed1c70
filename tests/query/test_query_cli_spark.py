"""`harness sql` with the event-log queries teams copy from Databricks' monitoring docs."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from harness.cli.main import main

pytestmark = pytest.mark.spark

DOCS_DATA_QUALITY_QUERY = """
SELECT
  row_expectations.dataset AS dataset,
  row_expectations.name AS expectation,
  SUM(row_expectations.passed_records) AS passing_records,
  SUM(row_expectations.failed_records) AS failing_records
FROM (
  SELECT explode(
    from_json(
      details:flow_progress:data_quality:expectations,
      "array<struct<name: string, dataset: string, passed_records: int, failed_records: int>>"
    )
  ) row_expectations
  FROM event_log('{pipeline_id}')
  WHERE event_type = 'flow_progress'
)
GROUP BY row_expectations.dataset, row_expectations.name
"""


@pytest.fixture(scope="module")
def ran_pipeline(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from harness.pipeline import LocalPipeline

    root = tmp_path_factory.mktemp("eventlog_queries")
    (root / "quality.py").write_text(
        textwrap.dedent(
            """
            import dlt


            @dlt.table
            @dlt.expect("positive", "n > 0")
            @dlt.expect_or_drop("not_seven", "n != 7")
            def numbers():
                return spark.range(-2, 10).withColumnRenamed("id", "n")
            """
        )
    )
    settings = {
        "name": "eventlog_queries",
        "id": "0f1e2d3c-aaaa-bbbb-cccc-000000000001",
        "catalog": "main",
        "schema": "q",
        "libraries": [{"file": {"path": "quality.py"}}],
    }
    settings_file = root / "settings.json"
    settings_file.write_text(json.dumps(settings))
    state = root / "state"
    result = LocalPipeline(root, settings, state=state, spark=spark).run()
    assert result.status == "COMPLETED"
    return {"settings": str(settings_file), "state": str(state), "id": settings["id"]}


def _sql(ran: dict[str, Any], query: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = main(["sql", query, "--settings", ran["settings"], "--state", ran["state"], "--format", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else None, captured.err


def test_json_path_with_cast_on_the_details_string(ran_pipeline: dict[str, Any], capsys: Any) -> None:
    code, rows, _ = _sql(
        ran_pipeline,
        "SELECT origin.flow_name AS flow, details:flow_progress.metrics.num_output_rows::bigint AS n "
        "FROM event_log WHERE event_type = 'flow_progress' AND details:flow_progress.status = 'COMPLETED'",
        capsys,
    )
    assert code == 0
    assert rows == [{"flow": "numbers", "n": 11}]


def test_the_docs_data_quality_query_runs_unchanged(ran_pipeline: dict[str, Any], capsys: Any) -> None:
    query = DOCS_DATA_QUALITY_QUERY.format(pipeline_id=ran_pipeline["id"])
    code, rows, err = _sql(ran_pipeline, query, capsys)
    assert code == 0, err
    by_name = {row["expectation"]: (row["passing_records"], row["failing_records"]) for row in rows}
    assert by_name == {"positive": (9, 3), "not_seven": (11, 1)}


def test_a_typo_costs_one_line_and_exit_status_1(ran_pipeline: dict[str, Any], capsys: Any) -> None:
    code, _, err = _sql(ran_pipeline, "SELEC 1", capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: [PARSE_SYNTAX_ERROR]")
    code, _, err = _sql(ran_pipeline, "SELECT nme FROM event_log", capsys)
    assert code == 1
    assert err.strip().count("\n") == 0
    assert "UNRESOLVED_COLUMN" in err


def test_event_log_of_another_pipeline_is_refused_by_name(ran_pipeline: dict[str, Any], capsys: Any) -> None:
    code, _, err = _sql(ran_pipeline, "SELECT count(*) FROM event_log('not-this-one')", capsys)
    assert code == 1
    assert "not-this-one" in err and "eventlog_queries" in err


def test_the_docs_view_then_query_script_runs_in_one_call(ran_pipeline: dict[str, Any], capsys: Any) -> None:
    script = (
        f"CREATE OR REPLACE TEMP VIEW event_log_raw AS SELECT * FROM event_log('{ran_pipeline['id']}');\n"
        "CREATE OR REPLACE TEMP VIEW latest_update AS SELECT origin.update_id AS id FROM event_log_raw "
        "WHERE event_type = 'create_update' ORDER BY timestamp DESC LIMIT 1;\n"
        "SELECT details:flow_definition.output_dataset AS output FROM event_log_raw, latest_update "
        "WHERE event_type = 'flow_definition' AND origin.update_id = latest_update.id;"
    )
    code, rows, err = _sql(ran_pipeline, script, capsys)
    assert code == 0, err
    assert [row["output"].split(".")[-1] for row in rows] == ["numbers"]
