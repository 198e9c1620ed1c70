"""The conformance corpus: small pipelines in the shapes public DLT code uses, run update by update.

Each case is a folder under `cases/` (format: `cases/README.md`): its sources (`src/`, Python
and/or SQL), the input files dropped into the landing volume before each update, and
`case.yaml` with what Databricks' documented behaviour says must hold after each update: the
update's status, the tables' rows, and the expectation, dropped and output-row counts of the
event log. All cases share the run's one SparkSession; each gets a fresh state directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conformance_case import ConformanceCase, UpdateExpectation, load_cases
from conformance_compare import assert_event_counts, assert_rows

CASES_DIR = Path(__file__).resolve().parent / "cases"
LANDING = "landing"

pytestmark = pytest.mark.spark


def _settings(case: ConformanceCase) -> dict[str, Any]:
    return {
        "name": f"conformance_{case.name}",
        "catalog": case.catalog,
        "schema": case.schema,
        "configuration": dict(case.configuration),
        "libraries": list(case.libraries),
    }


def _drop_inputs(case_dir: Path, update_number: int, landing: Path) -> None:
    source = case_dir / "input" / str(update_number)
    if source.is_dir():
        shutil.copytree(source, landing, dirs_exist_ok=True)


def _run_update(pipeline: Any, expected: UpdateExpectation) -> Any:
    if expected.full_refresh is True:
        return pipeline.run(full_refresh=True)
    if expected.full_refresh:
        return pipeline.run(full_refresh_selection=list(expected.full_refresh))
    return pipeline.run()


@pytest.mark.parametrize("case", load_cases(CASES_DIR), ids=lambda case: case.name)
def test_case(case: ConformanceCase, spark: Any, tmp_path: Path) -> None:
    from harness.pipeline import LocalPipeline

    case_dir = tmp_path / case.name
    shutil.copytree(case.folder, case_dir, ignore=shutil.ignore_patterns("__pycache__"))
    for statement in case.setup_sql:
        spark.sql(statement.replace("{tmp}", str(tmp_path)))
    pipeline = LocalPipeline(case_dir, _settings(case), state=tmp_path / "state", spark=spark)
    landing = pipeline.volume_path(f"/Volumes/{case.catalog}/{case.schema}/{LANDING}")
    landing.mkdir(parents=True, exist_ok=True)
    for number, expected in enumerate(case.updates, start=1):
        where = f"case {case.name!r}, update {number}"
        _drop_inputs(case_dir, number, landing)
        result = _run_update(pipeline, expected)
        flow_errors = {name: flow.error for name, flow in result.flows.items() if flow.error}
        assert result.status == expected.status, (
            f"{where}: {result.status}, errors {flow_errors or result.error}"
        )
        if expected.error:
            messages = " | ".join([*(e or "" for e in flow_errors.values()), result.error or ""])
            assert expected.error in messages, f"{where}: {expected.error!r} not in {messages!r}"
        for table, rows in expected.tables.items():
            assert_rows(pipeline.table(table), rows, f"{where}, table {table!r}")
        for table, count in expected.row_counts.items():
            actual = pipeline.table(table).count()
            assert actual == count, f"{where}, table {table!r}: expected {count} rows, got {actual}"
        assert_event_counts(pipeline.event_log(), result.update_id, expected, where)
    for statement in case.teardown_sql:
        spark.sql(statement)
