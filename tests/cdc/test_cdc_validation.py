"""Definitions Databricks rejects raise CdcDefinitionError(flow, reason) before anything is written."""

from __future__ import annotations

import pytest
from cdc_helpers import cdc_spec
from pyspark.sql.functions import col

from harness.cdc import apply_changes_batch, resolve_cdc_plan
from harness.errors import CdcDefinitionError

pytestmark = pytest.mark.spark

SCHEMA = "userId int, name string, city string, operation string, sequenceNum int, __START_AT int"

SCD2 = {"stored_as_scd_type": 2, "except_column_list": ("__START_AT",)}

INVALID = {
    "both column lists": ({"column_list": ("userId",), "except_column_list": ("city",)}, "column_list"),
    "both track_history lists": (
        {
            **SCD2,
            "track_history_column_list": ("name",),
            "track_history_except_column_list": ("city",),
        },
        "track_history",
    ),
    "track_history with SCD1": ({"track_history_column_list": ("name",)}, "track_history"),
    "truncates with SCD2": ({**SCD2, "apply_as_truncates": "operation = 'TRUNCATE'"}, "truncates"),
    "unknown key": ({"keys": ("id",)}, "keys"),
    "no keys": ({"keys": ()}, "keys"),
    "qualified key": ({"keys": ("source.userId",)}, "keys"),
    "unknown SCD type": ({"stored_as_scd_type": 3}, "stored_as_scd_type"),
    "unknown sequence column": ({"sequence_by": "seq"}, "sequence_by"),
    "unresolvable delete condition": ({"apply_as_deletes": "op = 'DELETE'"}, "apply_as_deletes"),
    "non-boolean delete condition": ({"apply_as_deletes": "sequenceNum + 1"}, "apply_as_deletes"),
    "key excluded": ({"except_column_list": ("userId",)}, "except_column_list"),
    "column_list without the key": ({"column_list": ("name",)}, "column_list"),
    "both ignore-null lists": (
        {"ignore_null_updates_column_list": ("name",), "ignore_null_updates_except_column_list": ("city",)},
        "ignore_null_updates",
    ),
    "SCD2 with a __START_AT source column": ({"stored_as_scd_type": "2"}, "reserved"),
}


@pytest.mark.parametrize("overrides, mentioned", INVALID.values(), ids=INVALID.keys())
def test_invalid_definitions_name_the_flow_and_the_problem(spark, overrides, mentioned):
    spec = cdc_spec(name="bad_flow", **overrides)
    with pytest.raises(CdcDefinitionError) as error:
        resolve_cdc_plan(spark.createDataFrame([], SCHEMA), spec)
    assert error.value.flow == "bad_flow"
    assert mentioned in error.value.reason


def test_qualified_col_key_is_rejected_and_plain_col_accepted(spark):
    source = spark.createDataFrame([], SCHEMA)
    with pytest.raises(CdcDefinitionError) as error:
        resolve_cdc_plan(source, cdc_spec(keys=(col("source.userId"),)))
    assert error.value.flow == "users_cdc"
    plan = resolve_cdc_plan(source, cdc_spec(keys=(col("USERID"),), except_column_list=("__START_AT",)))
    assert plan.keys == ("userId",)  # resolved to the source's spelling


def test_invalid_definition_writes_nothing(spark, make_target):
    target = make_target()
    batch = spark.createDataFrame([(1, "a", "b", "INSERT", 1, 0)], SCHEMA)
    with pytest.raises(CdcDefinitionError):
        apply_changes_batch(spark, batch, target, cdc_spec(keys=("nope",)), batch_id=0)
    assert not spark.catalog.tableExists(target.table_name)
