"""Databricks' documented AUTO CDC "users" example, reproduced against its published result tables.

Source: "The AUTO CDC APIs: Simplify change data capture with pipelines", section "AUTO CDC examples"
(SCD type 1 / SCD type 2 / track history for a subset of columns):
  https://docs.databricks.com/aws/en/ldp/cdc
  https://learn.microsoft.com/en-us/azure/databricks/ldp/cdc   (Azure mirror, same content)
The input feed is the page's `users_cdf` table (the TRUNCATE row is the commented-out last line of
its generator, "Uncomment to test TRUNCATE"); the expected tables are the page's results. Each
scenario runs twice: as the page does (the whole feed in one micro-batch), and split into batches in
the listed order so that the late rows (sequenceNum 5, after 6) arrive in a later micro-batch.
"""

from __future__ import annotations

import pytest
from cdc_helpers import cdc_spec, rows
from pyspark.sql.functions import col, expr
from pyspark.sql.types import IntegerType

from harness.cdc import apply_changes_batch, cdc_target_schema

pytestmark = pytest.mark.spark

SCHEMA = "userId int, name string, city string, operation string, sequenceNum int"

USERS_CDF = [
    # Initial load.
    (124, "Raul", "Oaxaca", "INSERT", 1),
    (123, "Isabel", "Monterrey", "INSERT", 1),
    # New users.
    (125, "Mercedes", "Tijuana", "INSERT", 2),
    (126, "Lily", "Cancun", "INSERT", 2),
    # Isabel is removed from the system and Mercedes moved to Guadalajara.
    (123, None, None, "DELETE", 6),
    (125, "Mercedes", "Guadalajara", "UPDATE", 6),
    # This batch of updates arrived out of order. The batch at sequenceNum 6 is the final state.
    (125, "Mercedes", "Mexicali", "UPDATE", 5),
    (123, "Isabel", "Chihuahua", "UPDATE", 5),
]
TRUNCATE_ROW = (None, None, None, "TRUNCATE", 3)

# Published results.
SCD1_RESULT = [(124, "Raul", "Oaxaca"), (125, "Mercedes", "Guadalajara"), (126, "Lily", "Cancun")]
SCD1_WITH_TRUNCATE_RESULT = [(125, "Mercedes", "Guadalajara")]
SCD2_RESULT = [
    (123, "Isabel", "Chihuahua", 5, 6),
    (123, "Isabel", "Monterrey", 1, 5),
    (124, "Raul", "Oaxaca", 1, None),
    (125, "Mercedes", "Guadalajara", 6, None),
    (125, "Mercedes", "Mexicali", 5, 6),
    (125, "Mercedes", "Tijuana", 2, 5),
    (126, "Lily", "Cancun", 2, None),
]
SCD2_EXCEPT_CITY_RESULT = [
    (123, "Isabel", "Chihuahua", 1, 6),
    (124, "Raul", "Oaxaca", 1, None),
    (125, "Mercedes", "Guadalajara", 2, None),
    (126, "Lily", "Cancun", 2, None),
]


def scd1() -> dict:
    """The page's SCD type 1 flow arguments (Columns need the session, hence a function)."""
    return {
        "sequence_by": col("sequenceNum"),
        "apply_as_deletes": expr("operation = 'DELETE'"),
        "apply_as_truncates": expr("operation = 'TRUNCATE'"),
        "except_column_list": ("operation", "sequenceNum"),
        "stored_as_scd_type": 1,
    }


def scd2() -> dict:
    """The page's SCD type 2 flow arguments."""
    return {
        "sequence_by": col("sequenceNum"),
        "apply_as_deletes": expr("operation = 'DELETE'"),
        "except_column_list": ("operation", "sequenceNum"),
        "stored_as_scd_type": "2",
    }


def _run(spark, target, spec, feed, split: bool) -> None:
    # Split: initial load + new users | delete + update at 6 | late updates at 5 [| truncate at 3].
    batches = [feed[:4], feed[4:6], feed[6:8], *([feed[8:]] if feed[8:] else [])] if split else [feed]
    for batch_id, batch in enumerate(batches):
        apply_changes_batch(spark, spark.createDataFrame(batch, SCHEMA), target, spec, batch_id)


@pytest.mark.parametrize("split", [False, True], ids=["one-batch", "arrival-batches"])
def test_scd1_matches_published_table(spark, make_target, split):
    target = make_target()
    _run(spark, target, cdc_spec(**scd1()), USERS_CDF, split)
    assert spark.table(target.table_name).columns == ["userId", "name", "city"]
    assert rows(spark, target) == SCD1_RESULT


@pytest.mark.parametrize("split", [False, True], ids=["one-batch", "arrival-batches"])
def test_scd1_with_truncate_matches_published_table(spark, make_target, split):
    target = make_target()
    _run(spark, target, cdc_spec(**scd1()), [*USERS_CDF, TRUNCATE_ROW], split)
    assert rows(spark, target) == SCD1_WITH_TRUNCATE_RESULT


@pytest.mark.parametrize("split", [False, True], ids=["one-batch", "arrival-batches"])
def test_scd2_matches_published_table(spark, make_target, split):
    target = make_target()
    _run(spark, target, cdc_spec(**scd2()), USERS_CDF, split)
    table = spark.table(target.table_name)
    assert table.columns == ["userId", "name", "city", "__START_AT", "__END_AT"]
    assert table.schema["__START_AT"].dataType == IntegerType()  # the type of sequenceNum
    assert table.schema["__END_AT"].dataType == IntegerType()
    assert rows(spark, target) == SCD2_RESULT


@pytest.mark.parametrize("split", [False, True], ids=["one-batch", "arrival-batches"])
def test_scd2_track_history_except_city_matches_published_table(spark, make_target, split):
    target = make_target()
    spec = cdc_spec(**scd2(), track_history_except_column_list=("city",))
    _run(spark, target, spec, USERS_CDF, split)
    assert rows(spark, target) == SCD2_EXCEPT_CITY_RESULT


def test_single_batch_metrics(spark, make_target):
    """One batch of the feed: 8 input rows; 123's final event is a delete of a row never written."""
    target = make_target()
    metrics = apply_changes_batch(
        spark, spark.createDataFrame(USERS_CDF, SCHEMA), target, cdc_spec(**scd1()), batch_id=0
    )
    assert (metrics.num_input_rows, metrics.num_upserted_rows, metrics.num_deleted_rows) == (8, 3, 0)
    assert metrics.num_output_rows == 3


def test_target_schema_helper(spark):
    source = spark.createDataFrame([], SCHEMA).schema
    assert [f.name for f in cdc_target_schema(source, cdc_spec(**scd1())).fields] == [
        "userId",
        "name",
        "city",
    ]
    history = cdc_target_schema(source, cdc_spec(**scd2()))
    assert [f.name for f in history.fields] == ["userId", "name", "city", "__START_AT", "__END_AT"]
    assert history["__START_AT"].dataType == IntegerType()
