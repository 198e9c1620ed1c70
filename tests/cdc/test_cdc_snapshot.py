"""Snapshot CDC (create_auto_cdc_from_snapshot_flow) from a table and from a snapshot function.

Data and expected tables follow the "AUTO CDC FROM SNAPSHOT examples" of
  https://docs.databricks.com/aws/en/ldp/cdc  (mirror: https://learn.microsoft.com/en-us/azure/databricks/ldp/cdc)
periodic snapshots of `main.cdc_tutorial.snapshot` (userId, city), and the versioned
`snapshot_1.csv` / `snapshot_2.csv` read by a `next_snapshot_and_version` function.
"""

from __future__ import annotations

import pytest
from cdc_helpers import rows, snapshot_spec

from harness.cdc import apply_snapshot, run_snapshot_flow
from harness.errors import CdcDefinitionError, FlowExecutionError

pytestmark = pytest.mark.spark

SCHEMA = "userId int, city string"
FIRST = [(1, "Oaxaca"), (2, "Monterrey"), (3, "Tijuana")]
SECOND = [(2, "Carmel"), (3, "Los Angeles"), (4, "Death Valley"), (6, "Kings Canyon")]


def _replace_source(spark, name: str, data) -> None:
    spark.createDataFrame(data, SCHEMA).write.format("delta").mode("overwrite").saveAsTable(name)


@pytest.mark.parametrize("scd_type", [1, 2])
def test_table_source_one_snapshot_per_update(spark, make_target, database, scd_type):
    source = f"{database}.snapshot"
    target = make_target()
    spec = snapshot_spec(source=source, stored_as_scd_type=scd_type)
    _replace_source(spark, source, FIRST)
    [first] = run_snapshot_flow(spark, target, spec, spark.table)
    _replace_source(spark, source, SECOND)
    [second] = run_snapshot_flow(spark, target, spec, spark.table)
    [unchanged] = run_snapshot_flow(spark, target, spec, spark.table)
    if scd_type == 2:
        assert rows(spark, target) == [
            (1, "Oaxaca", 0, 1),
            (2, "Carmel", 1, None),
            (2, "Monterrey", 0, 1),
            (3, "Los Angeles", 1, None),
            (3, "Tijuana", 0, 1),
            (4, "Death Valley", 1, None),
            (6, "Kings Canyon", 1, None),
        ]
        # 4 new versions inserted, 3 current versions closed (updated); SCD2 deletes nothing.
        assert (second.num_upserted_rows, second.num_deleted_rows) == (7, 0)
    else:
        assert rows(spark, target) == [
            (2, "Carmel"),
            (3, "Los Angeles"),
            (4, "Death Valley"),
            (6, "Kings Canyon"),
        ]
        assert (second.num_upserted_rows, second.num_deleted_rows) == (4, 1)
    assert (first.num_input_rows, first.num_upserted_rows) == (3, 3)
    assert second.num_input_rows == 4
    # An unchanged snapshot changes nothing: rows are "updated only if any of the values changed".
    assert (unchanged.num_input_rows, unchanged.num_upserted_rows, unchanged.num_deleted_rows) == (4, 0, 0)


def _versioned_source(spark, snapshots: dict[int, list], calls: list):
    def next_snapshot_and_version(latest_snapshot_version):
        calls.append(latest_snapshot_version)
        newer = sorted(v for v in snapshots if latest_snapshot_version is None or v > latest_snapshot_version)
        if not newer:
            return None
        return spark.createDataFrame(snapshots[newer[0]], SCHEMA), newer[0]

    return next_snapshot_and_version


def test_function_source_is_called_until_none_and_resumes(spark, make_target):
    calls: list = []
    snapshots = {1: FIRST, 2: SECOND[:3]}
    target = make_target()
    spec = snapshot_spec(
        snapshot_and_version=_versioned_source(spark, snapshots, calls), stored_as_scd_type=2
    )
    applied = run_snapshot_flow(spark, target, spec, spark.table)
    assert calls == [None, 1, 2]
    assert len(applied) == 2
    assert rows(spark, target) == [
        (1, "Oaxaca", 1, 2),
        (2, "Carmel", 2, None),
        (2, "Monterrey", 1, 2),
        (3, "Los Angeles", 2, None),
        (3, "Tijuana", 1, 2),
        (4, "Death Valley", 2, None),
    ]
    # Next update: the function is asked for what follows the persisted version 2.
    snapshots[5] = [(4, "Death Valley")]
    calls.clear()
    [latest] = run_snapshot_flow(spark, target, spec, spark.table)
    assert calls == [2, 5]
    assert (latest.num_input_rows, latest.num_upserted_rows) == (1, 2)  # versions of 2 and 3 closed at 5
    assert sorted(r for r in rows(spark, target) if r[3] is None) == [(4, "Death Valley", 2, None)]


def test_snapshot_scd2_untracked_columns_change_in_place(spark, make_target):
    schema = "userId int, city string, phone string"
    target = make_target()
    spec = snapshot_spec(stored_as_scd_type=2, track_history_except_column_list=("phone",))
    apply_snapshot(spark, spark.createDataFrame([(1, "Oaxaca", "111")], schema), target, spec, 1)
    apply_snapshot(spark, spark.createDataFrame([(1, "Oaxaca", "222")], schema), target, spec, 2)
    apply_snapshot(spark, spark.createDataFrame([(1, "Lima", "222")], schema), target, spec, 3)
    assert rows(spark, target) == [(1, "Lima", "222", 3, None), (1, "Oaxaca", "222", 1, 3)]
    # A version not newer than the last applied one is skipped (out of order, or replayed).
    skipped = apply_snapshot(spark, spark.createDataFrame([(9, "Pisa", "0")], schema), target, spec, 3)
    assert skipped.num_input_rows == 0
    assert len(rows(spark, target)) == 2


def test_snapshot_errors(spark, make_target):
    target = make_target()
    with pytest.raises(CdcDefinitionError) as both:
        run_snapshot_flow(
            spark, target, snapshot_spec(source="x", snapshot_and_version=lambda v: None), spark.table
        )
    assert both.value.flow == "snap"
    with pytest.raises(FlowExecutionError) as duplicated:
        apply_snapshot(spark, spark.createDataFrame([(1, "a"), (1, "b")], SCHEMA), target, snapshot_spec(), 1)
    assert "unique" in duplicated.value.reason
    stuck = snapshot_spec(
        name="stuck", snapshot_and_version=lambda v: (spark.createDataFrame(FIRST, SCHEMA), 1)
    )
    with pytest.raises(FlowExecutionError) as not_newer:
        run_snapshot_flow(spark, target, stuck, spark.table)
    assert not_newer.value.flow == "stuck"
    assert "newer version" in not_newer.value.reason
