"""SCD type 2: history splits for late events, deletes, tracked columns, struct sequences, replays."""

from __future__ import annotations

from pathlib import Path

import pytest
from cdc_helpers import cdc_spec, rows
from delta.tables import DeltaTable
from pyspark.sql.functions import struct

from harness.cdc import apply_changes_batch

pytestmark = pytest.mark.spark

SCHEMA = "userId int, name string, city string, operation string, sequenceNum long"


def _spec(**overrides):
    base = {
        "apply_as_deletes": "operation = 'DELETE'",
        "except_column_list": ("operation", "sequenceNum"),
        "stored_as_scd_type": 2,
    }
    return cdc_spec(**{**base, **overrides})


def _apply(spark, target, spec, batch_id, data, schema=SCHEMA):
    return apply_changes_batch(spark, spark.createDataFrame(data, schema), target, spec, batch_id)


def test_late_events_split_history_and_deletes_close_versions(spark, make_target):
    target, spec = make_target(), _spec()
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1), (1, "Ann", "Cusco", "UPDATE", 5)])
    _apply(spark, target, spec, 1, [(1, "Ann", "Quito", "UPDATE", 3)])  # lands between 1 and 5
    assert rows(spark, target) == [
        (1, "Ann", "Cusco", 5, None),
        (1, "Ann", "Lima", 1, 3),
        (1, "Ann", "Quito", 3, 5),
    ]
    _apply(spark, target, spec, 2, [(1, None, None, "DELETE", 8)])
    _apply(spark, target, spec, 3, [(1, "Ann", "Pisa", "UPDATE", 7)])  # late, before the delete
    _apply(spark, target, spec, 4, [(1, "Ann", "Rome", "INSERT", 9)])  # re-inserted after the delete
    assert rows(spark, target) == [
        (1, "Ann", "Cusco", 5, 7),
        (1, "Ann", "Lima", 1, 3),
        (1, "Ann", "Pisa", 7, 8),
        (1, "Ann", "Quito", 3, 5),
        (1, "Ann", "Rome", 9, None),
    ]
    assert spark.table(target.table_name).schema["__START_AT"].dataType.simpleString() == "bigint"


def test_track_history_column_list_updates_untracked_columns_in_place(spark, make_target):
    target, spec = make_target(), _spec(track_history_column_list=("name",))
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1), (1, "Ann", "Cusco", "UPDATE", 2)])
    assert rows(spark, target) == [(1, "Ann", "Cusco", 1, None)]
    _apply(spark, target, spec, 1, [(1, "Anna", "Cusco", "UPDATE", 4), (1, "Anna", "Oslo", "UPDATE", 6)])
    # A late untracked change lands in the version that was current at its sequence.
    _apply(spark, target, spec, 2, [(1, "Ann", "Pisa", "UPDATE", 3)])
    assert rows(spark, target) == [(1, "Ann", "Pisa", 1, 4), (1, "Anna", "Oslo", 4, None)]


def test_ignore_null_updates_in_history(spark, make_target):
    target, spec = make_target(), _spec(ignore_null_updates=True)
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1), (1, None, "Quito", "UPDATE", 2)])
    assert rows(spark, target) == [(1, "Ann", "Lima", 1, 2), (1, "Ann", "Quito", 2, None)]


def test_struct_sequence_types_the_validity_columns(spark, make_target):
    schema = "id int, v string, ts int, n int"
    target = make_target()
    spec = cdc_spec(
        keys=("id",), sequence_by=struct("ts", "n"), except_column_list=("ts", "n"), stored_as_scd_type=2
    )
    apply_changes_batch(
        spark, spark.createDataFrame([(1, "b", 5, 2), (1, "a", 5, 1)], schema), target, spec, 0
    )
    table = spark.table(target.table_name)
    assert table.schema["__START_AT"].dataType.simpleString() == "struct<ts:int,n:int>"
    history = [(r["v"], r["__START_AT"], r["__END_AT"]) for r in table.orderBy("v").collect()]
    assert [(v, tuple(start), end and tuple(end)) for v, start, end in history] == [
        ("a", (5, 1), (5, 2)),
        ("b", (5, 2), None),
    ]


def test_replayed_batches_are_no_ops(spark, make_target):
    target, spec = make_target(), _spec()
    batch = [
        (1, "Ann", "Lima", "INSERT", 1),
        (1, "Ann", "Quito", "UPDATE", 3),
        (2, "Bo", "Oslo", "INSERT", 2),
    ]
    first = _apply(spark, target, spec, 0, batch)
    version = DeltaTable.forName(spark, target.table_name).history(1).collect()[0].version
    expected = rows(spark, target)
    # Same batch id (Structured Streaming replays the last batch after a crash): skipped outright.
    assert _apply(spark, target, spec, 0, batch) == first
    assert DeltaTable.forName(spark, target.table_name).history(1).collect()[0].version == version
    # Crash after the writes but before the batch was recorded: the re-run changes nothing.
    for ledger in (Path(target.state_path) / "batches").glob("*.json"):
        ledger.unlink()
    rerun = _apply(spark, target, spec, 0, batch)
    assert (rerun.num_upserted_rows, rerun.num_deleted_rows) == (0, 0)
    # The same events again under a new batch id: already applied, nothing changes.
    again = _apply(spark, target, spec, 1, batch)
    assert (again.num_input_rows, again.num_upserted_rows, again.num_deleted_rows) == (3, 0, 0)
    assert (
        rows(spark, target)
        == expected
        == [
            (1, "Ann", "Lima", 1, 3),
            (1, "Ann", "Quito", 3, None),
            (2, "Bo", "Oslo", 2, None),
        ]
    )
    assert (first.num_input_rows, first.num_upserted_rows, first.num_deleted_rows) == (3, 3, 0)
