"""The two-phase schema-evolution fixture, for each cloudFiles.schemaEvolutionMode.

Phase 1 lands the base schema (id, amount as numbers); phase 2 adds a file whose records carry a
new field (`extra`) and a type mismatch (`amount` = "abc").
"""

from __future__ import annotations

from typing import Any

import pytest
from autoloader_helpers import Rig, rescued
from pyspark.sql.types import LongType, StringType

from harness.autoloader import SchemaStore, translate_stream_failure
from harness.errors import NewColumnsDetectedError

pytestmark = pytest.mark.spark

PHASE_1 = [{"id": 1, "amount": 10}]
PHASE_2 = [{"id": 2, "amount": "abc", "extra": "x"}, {"id": 3, "amount": 30}]


def two_phase(rig: Rig, options: dict[str, str]) -> tuple[Any, Any]:
    """Run phase 1 (must succeed), drop phase 2, run once more; return both results."""
    rig.write("p1.json", PHASE_1)
    first = rig.update(options)
    assert first.error is None and [r["id"] for r in rig.rows()] == [1]
    rig.write("p2.json", PHASE_2)
    return first, rig.update(options)


def delta_versions(rig: Rig) -> int:
    return rig.spark.sql(f"DESCRIBE HISTORY delta.`{rig.target}`").count()


def test_add_new_columns_fails_records_the_schema_and_the_retry_succeeds(rig: Rig) -> None:
    options = {"cloudFiles.inferColumnTypes": "true"}
    _, second = two_phase(rig, options)
    assert isinstance(second.error, NewColumnsDetectedError)
    assert (second.error.source, second.error.columns, second.error.mode) == (
        "bronze_src",
        ["extra"],
        "addNewColumns",
    )
    assert [r["id"] for r in rig.rows()] == [1] and delta_versions(rig) == 1  # nothing of phase 2 written
    history = SchemaStore.at(str(rig.schema_location)).history()
    assert [h.info["reason"] for h in history] == ["inferred", "addNewColumns"]
    assert history[1].info["added_columns"] == ["extra"]
    assert (
        history[1].schema["extra"].dataType == StringType()
        and history[1].schema["amount"].dataType == LongType()
    )

    retry = rig.update(options)  # what `harness run` does once automatically
    assert retry.error is None
    rows = {r["id"]: r for r in rig.rows()}
    assert rows[1]["extra"] is None and rows[1]["_rescued_data"] is None
    assert rows[2]["extra"] == "x" and rows[2]["amount"] is None
    assert rescued(rows[2]) == {"amount": "abc", "_file_path": f"file:{rig.input}/p2.json"}
    assert rows[3] == {"id": 3, "amount": 30, "extra": None, "_rescued_data": None}
    assert retry.metrics == [{"num_records": 2, "num_corrupt_records": 0, "num_rescued_records": 1}]


def test_add_new_columns_also_evolves_nested_struct_fields(rig: Rig) -> None:
    rig.write("p1.json", [{"id": 1, "address": {"city": "Bonn"}}])
    assert rig.update({}).error is None
    rig.write("p2.json", [{"id": 2, "address": {"city": "Köln", "country": "DE"}}])
    failed = rig.update({})
    assert isinstance(failed.error, NewColumnsDetectedError) and failed.error.columns == ["address.country"]
    assert rig.update({}).error is None
    rows = {r["id"]: r for r in rig.rows()}  # inferColumnTypes=false: ids are strings
    assert rows["1"]["address"] == {"city": "Bonn", "country": None}
    assert rows["2"]["address"] == {"city": "Köln", "country": "DE"} and rows["2"]["_rescued_data"] is None


def test_rescue_never_fails_nor_evolves(rig: Rig) -> None:
    options = {"cloudFiles.inferColumnTypes": "true", "cloudFiles.schemaEvolutionMode": "rescue"}
    _, second = two_phase(rig, options)
    assert second.error is None
    rows = {r["id"]: r for r in rig.rows()}
    assert set(rows[2]) == {"id", "amount", "_rescued_data"}
    assert rescued(rows[2]) == {"amount": "abc", "extra": "x", "_file_path": f"file:{rig.input}/p2.json"}
    assert rows[3]["amount"] == 30 and rows[3]["_rescued_data"] is None
    assert len(SchemaStore.at(str(rig.schema_location)).history()) == 1


def test_fail_on_new_columns_fails_every_time_and_does_not_evolve(rig: Rig) -> None:
    options = {"cloudFiles.inferColumnTypes": "true", "cloudFiles.schemaEvolutionMode": "failOnNewColumns"}
    _, second = two_phase(rig, options)
    assert isinstance(second.error, NewColumnsDetectedError)
    assert (second.error.columns, second.error.mode) == (["extra"], "failOnNewColumns")
    retry = rig.update(options)
    assert isinstance(retry.error, NewColumnsDetectedError)
    assert [r["id"] for r in rig.rows()] == [1]
    assert len(SchemaStore.at(str(rig.schema_location)).history()) == 1


def test_none_ignores_new_columns_and_has_no_rescued_column(rig: Rig) -> None:
    options = {"cloudFiles.inferColumnTypes": "true", "cloudFiles.schemaEvolutionMode": "none"}
    _, second = two_phase(rig, options)
    assert second.error is None
    assert rig.rows() == [{"id": 1, "amount": 10}, {"id": 2, "amount": None}, {"id": 3, "amount": 30}]
    # Nothing is rescued, but the record whose data did not fit is still counted.
    assert second.metrics == [{"num_records": 2, "num_corrupt_records": 0, "num_rescued_records": 1}]
    assert len(SchemaStore.at(str(rig.schema_location)).history()) == 1


def test_none_with_an_explicit_rescued_column_rescues(rig: Rig) -> None:
    options = {
        "cloudFiles.inferColumnTypes": "true",
        "cloudFiles.schemaEvolutionMode": "none",
        "rescuedDataColumn": "_rescued_data",
    }
    _, second = two_phase(rig, options)
    assert second.error is None
    rows = {r["id"]: r for r in rig.rows()}
    assert rescued(rows[2]) == {"amount": "abc", "extra": "x", "_file_path": f"file:{rig.input}/p2.json"}


def test_translate_ignores_other_failures() -> None:
    assert translate_stream_failure(RuntimeError("[DIVIDE_BY_ZERO] boom")) is None
