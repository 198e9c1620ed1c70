"""SCD type 1: ordering across batches, duplicates, deletes, truncates, null-ignoring, column lists."""

from __future__ import annotations

import pytest
from cdc_helpers import cdc_spec, rows
from pyspark.sql.functions import struct

from harness.cdc import apply_changes_batch
from harness.errors import FlowExecutionError

pytestmark = pytest.mark.spark

SCHEMA = "userId int, name string, city string, operation string, sequenceNum int"


def _spec(**overrides):
    base = {
        "apply_as_deletes": "operation = 'DELETE'",
        "apply_as_truncates": "operation = 'TRUNCATE'",
        "except_column_list": ("operation", "sequenceNum"),
    }
    return cdc_spec(**{**base, **overrides})


def _apply(spark, target, spec, batch_id, data, schema=SCHEMA):
    return apply_changes_batch(spark, spark.createDataFrame(data, schema), target, spec, batch_id)


def test_older_events_in_later_batches_never_win(spark, make_target):
    target, spec = make_target(), _spec()
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 5), (2, "Bo", "Oslo", "INSERT", 1)])
    late = _apply(spark, target, spec, 1, [(1, "Ann", "Quito", "UPDATE", 3), (2, "Bo", "Rome", "UPDATE", 2)])
    assert rows(spark, target) == [(1, "Ann", "Lima"), (2, "Bo", "Rome")]
    # Only key 2's update was newer than what the target holds.
    assert (late.num_input_rows, late.num_upserted_rows, late.num_deleted_rows) == (2, 1, 0)


def test_late_upsert_older_than_a_delete_does_not_resurrect_the_key(spark, make_target):
    target, spec = make_target(), _spec()
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1), (2, "Bo", "Oslo", "INSERT", 1)])
    deleted = _apply(spark, target, spec, 1, [(1, None, None, "DELETE", 5)])
    assert deleted.num_deleted_rows == 1
    late = _apply(spark, target, spec, 2, [(1, "Ann", "Quito", "UPDATE", 3)])
    assert rows(spark, target) == [(2, "Bo", "Oslo")]
    assert (late.num_upserted_rows, late.num_deleted_rows) == (0, 0)
    _apply(spark, target, spec, 3, [(1, "Ann", "Cusco", "INSERT", 7)])
    assert rows(spark, target) == [(1, "Ann", "Cusco"), (2, "Bo", "Oslo")]


def test_duplicates_and_ties_within_a_batch(spark, make_target):
    target, spec = make_target(), _spec()
    metrics = _apply(
        spark,
        target,
        spec,
        0,
        [
            (1, "Ann", "Lima", "INSERT", 1),
            (1, "Ann", "Lima", "INSERT", 1),  # exact duplicate
            (1, "Ann", "Quito", "UPDATE", 2),
            (1, "Ann", "Quito", "UPDATE", 2),
            (2, "Bo", "Oslo", "INSERT", 4),
            (2, None, None, "DELETE", 4),  # same sequence as the upsert: the delete wins
            (3, "Cy", "Bern", "INSERT", 1),
        ],
    )
    assert rows(spark, target) == [(1, "Ann", "Quito"), (3, "Cy", "Bern")]
    assert (metrics.num_input_rows, metrics.num_upserted_rows, metrics.num_deleted_rows) == (7, 2, 0)


def test_truncate_across_batches_and_late_events_before_it(spark, make_target):
    target, spec = make_target(), _spec()
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1), (2, "Bo", "Oslo", "INSERT", 20)])
    truncated = _apply(
        spark, target, spec, 1, [(None, None, None, "TRUNCATE", 10), (3, "Cy", "Bern", "INSERT", 11)]
    )
    # Key 2 was written at 20, after the truncate at 10: it survives.
    assert rows(spark, target) == [(2, "Bo", "Oslo"), (3, "Cy", "Bern")]
    assert (truncated.num_upserted_rows, truncated.num_deleted_rows) == (1, 1)
    # Events sequenced before the truncate are dropped, also for keys never seen before.
    _apply(spark, target, spec, 2, [(4, "Di", "Riga", "INSERT", 5), (1, "Ann", "Pisa", "UPDATE", 9)])
    assert rows(spark, target) == [(2, "Bo", "Oslo"), (3, "Cy", "Bern")]


def test_ignore_null_updates_keep_existing_values(spark, make_target):
    target, spec = make_target(), _spec(ignore_null_updates=True)
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1), (2, "Bo", "Oslo", "INSERT", 1)])
    _apply(
        spark,
        target,
        spec,
        1,
        [
            (1, None, "Quito", "UPDATE", 2),  # name kept
            (2, "Bob", None, "UPDATE", 2),  # partial updates fold in sequence order:
            (2, None, "Rome", "UPDATE", 3),  # -> ("Bob", "Rome")
            (3, "Cy", "Bern", "INSERT", 1),
            (3, None, None, "DELETE", 2),  # deleted, then re-inserted in the same batch:
            (3, None, "Pisa", "INSERT", 3),  # nothing to keep from before the delete
        ],
    )
    assert rows(spark, target) == [(1, "Ann", "Quito"), (2, "Bob", "Rome"), (3, None, "Pisa")]


def test_ignore_null_updates_column_list_applies_only_to_listed_columns(spark, make_target):
    target, spec = make_target(), _spec(ignore_null_updates_column_list=("name",))
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1)])
    _apply(spark, target, spec, 1, [(1, None, None, "UPDATE", 2)])
    assert rows(spark, target) == [(1, "Ann", None)]
    except_target = make_target("except_target")
    spec = _spec(ignore_null_updates_except_column_list=("name",))
    _apply(spark, except_target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1)])
    _apply(spark, except_target, spec, 1, [(1, None, None, "UPDATE", 2)])
    assert rows(spark, except_target) == [(1, None, "Lima")]


def test_column_list_and_except_column_list_shape_the_target(spark, make_target):
    data = [(1, "Ann", "Lima", "INSERT", 1)]
    listed = make_target("listed")
    _apply(spark, listed, _spec(except_column_list=None, column_list=("userId", "city")), 0, data)
    assert spark.table(listed.table_name).columns == ["userId", "city"]
    assert rows(spark, listed) == [(1, "Lima")]
    everything = make_target("everything")
    _apply(spark, everything, _spec(except_column_list=None), 0, data)
    assert spark.table(everything.table_name).columns == [
        "userId",
        "name",
        "city",
        "operation",
        "sequenceNum",
    ]


def test_struct_sequence_orders_lexicographically(spark, make_target):
    schema = "id int, v string, ts int, tiebreak int"
    target = make_target()
    spec = cdc_spec(keys=("id",), sequence_by=struct("ts", "tiebreak"))
    apply_changes_batch(
        spark, spark.createDataFrame([(1, "b", 5, 2), (1, "a", 5, 1)], schema), target, spec, 0
    )
    apply_changes_batch(spark, spark.createDataFrame([(1, "late", 4, 9)], schema), target, spec, 1)
    assert rows(spark, target) == [(1, "b", 5, 2)]


def test_where_cannot_drop_rows_and_null_sequences_fail(spark, make_target):
    target = make_target()
    spec = _spec(where="city IS NOT NULL")
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1)])
    assert rows(spark, target) == [(1, "Ann", "Lima")]
    with pytest.raises(FlowExecutionError) as outside:
        _apply(spark, target, spec, 1, [(2, "Bo", None, "INSERT", 2)])
    assert outside.value.flow == "users_cdc"
    assert "where" in outside.value.reason
    with pytest.raises(FlowExecutionError) as null_sequence:
        _apply(spark, target, _spec(), 2, [(3, "Cy", "Bern", "INSERT", None)])
    assert "NULL sequence_by" in null_sequence.value.reason
    assert rows(spark, target) == [(1, "Ann", "Lima")]


def test_new_source_columns_are_added_to_the_target(spark, make_target):
    target, spec = make_target(), _spec()
    _apply(spark, target, spec, 0, [(1, "Ann", "Lima", "INSERT", 1)])
    wider = "userId int, name string, city string, zip string, operation string, sequenceNum int"
    _apply(spark, target, spec, 1, [(2, "Bo", "Oslo", "0150", "INSERT", 2)], schema=wider)
    assert spark.table(target.table_name).columns == ["userId", "name", "city", "zip"]
    assert rows(spark, target) == [(1, "Ann", "Lima", None), (2, "Bo", "Oslo", "0150")]


def test_replayed_batch_is_a_no_op(spark, make_target):
    target, spec = make_target(), _spec()
    batch = [(1, "Ann", "Lima", "INSERT", 1), (2, "Bo", "Oslo", "INSERT", 1), (2, None, None, "DELETE", 2)]
    _apply(spark, target, spec, 0, [(2, "Bo", "Oslo", "INSERT", 1)])
    first = _apply(spark, target, spec, 1, batch)
    assert (first.num_upserted_rows, first.num_deleted_rows) == (1, 1)
    history = spark.sql(f"DESCRIBE HISTORY {target.table_name}").count()
    assert _apply(spark, target, spec, 1, batch) == first  # same batch id: skipped, same metrics
    assert spark.sql(f"DESCRIBE HISTORY {target.table_name}").count() == history
    again = _apply(spark, target, spec, 2, batch)  # same events, new id: every event is stale
    assert (again.num_upserted_rows, again.num_deleted_rows) == (0, 0)
    assert spark.sql(f"DESCRIBE HISTORY {target.table_name}").count() == history
    assert rows(spark, target) == [(1, "Ann", "Lima")]
