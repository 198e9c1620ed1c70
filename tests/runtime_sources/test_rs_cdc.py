"""AUTO CDC (`dlt.apply_changes` / `dlt.create_auto_cdc_flow`) inside a pipeline: Databricks'
published users example in SCD1 and SCD2 across updates, deletes, truncates, column lists,
history tracking lists, ignore_null_updates, flow_progress metrics and full refresh (issue 4, points
2, 5 and 6).

Source: "The AUTO CDC APIs: Simplify change data capture with pipelines", section "AUTO CDC
examples" (https://docs.databricks.com/aws/en/ldp/cdc; Azure mirror
https://learn.microsoft.com/en-us/azure/databricks/ldp/cdc). Feed and published tables as in
tests/cdc/test_cdc_users_example.py (engine level); here the feed lands as JSON files on a volume,
read by Auto Loader in a view, and the flows are declared as users declare them.

Updates of pipeline "cdc" (CDC flows cost seconds per micro-batch, so u3 and u4 are selective):
  u1 users_1.json (initial load + new users, sequenceNum 1-2), profiles_1.json;
  u2 users_2.json (delete and update at 6, the late updates at 5), profiles_2.json (partial updates);
  u3 users_3.json (the example's commented-out TRUNCATE at sequenceNum 3), refreshing users_scd1;
  u4 full refresh of users_scd1 and users_scd2: rebuilt from all files, CDC state reset.
"""

from __future__ import annotations

from typing import Any

import pytest
from pyspark.sql.types import IntegerType
from runtime_sources_helpers import drop_file, make_pipeline, metrics, table_rows

pytestmark = pytest.mark.spark

LANDING = "/Volumes/main/raw/cdc"

USERS_1 = [
    {"userId": 124, "name": "Raul", "city": "Oaxaca", "operation": "INSERT", "sequenceNum": 1},
    {"userId": 123, "name": "Isabel", "city": "Monterrey", "operation": "INSERT", "sequenceNum": 1},
    {"userId": 125, "name": "Mercedes", "city": "Tijuana", "operation": "INSERT", "sequenceNum": 2},
    {"userId": 126, "name": "Lily", "city": "Cancun", "operation": "INSERT", "sequenceNum": 2},
]
USERS_2 = [
    {"userId": 123, "name": None, "city": None, "operation": "DELETE", "sequenceNum": 6},
    {"userId": 125, "name": "Mercedes", "city": "Guadalajara", "operation": "UPDATE", "sequenceNum": 6},
    {"userId": 125, "name": "Mercedes", "city": "Mexicali", "operation": "UPDATE", "sequenceNum": 5},
    {"userId": 123, "name": "Isabel", "city": "Chihuahua", "operation": "UPDATE", "sequenceNum": 5},
]
USERS_3 = [{"userId": None, "name": None, "city": None, "operation": "TRUNCATE", "sequenceNum": 3}]

# Published results (the page's tables).
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

PROFILES_1 = [
    {"id": 1, "email": "a@x.org", "phone": "111", "seq": 1},
    {"id": 2, "email": "b@x.org", "phone": "222", "seq": 1},
]
PROFILES_2 = [
    {"id": 1, "email": None, "phone": "999", "seq": 2},
    {"id": 2, "email": None, "phone": None, "seq": 2},
]

PIPELINE = f'''
import dlt
from pyspark.sql.functions import col, expr


@dlt.view
def users_cdf():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .schema("userId INT, name STRING, city STRING, operation STRING, sequenceNum INT")
        .load("{LANDING}/users")
    )


@dlt.view
def users_changes():
    # SCD2 and column_list targets take no truncates (SCD2 rejects apply_as_truncates)
    return spark.readStream.table("users_cdf").where("operation != 'TRUNCATE'")


dlt.create_streaming_table("users_scd1")
dlt.create_auto_cdc_flow(
    target="users_scd1",
    source="users_cdf",
    keys=["userId"],
    sequence_by=col("sequenceNum"),
    apply_as_deletes=expr("operation = 'DELETE'"),
    apply_as_truncates=expr("operation = 'TRUNCATE'"),
    except_column_list=["operation", "sequenceNum"],
    stored_as_scd_type=1,
)

dlt.create_streaming_table("users_scd2")
dlt.apply_changes(
    target="users_scd2",
    source="users_changes",
    keys=["userId"],
    sequence_by=col("sequenceNum"),
    apply_as_deletes=expr("operation = 'DELETE'"),
    except_column_list=["operation", "sequenceNum"],
    stored_as_scd_type="2",
)

dlt.create_streaming_table("users_scd2_except_city")
dlt.apply_changes(
    target="users_scd2_except_city",
    source="users_changes",
    keys=["userId"],
    sequence_by=col("sequenceNum"),
    apply_as_deletes=expr("operation = 'DELETE'"),
    except_column_list=["operation", "sequenceNum"],
    stored_as_scd_type="2",
    track_history_except_column_list=["city"],
)

dlt.create_streaming_table("users_scd2_track_name")
dlt.create_auto_cdc_flow(
    target="users_scd2_track_name",
    source="users_changes",
    keys=["userId"],
    sequence_by="sequenceNum",
    apply_as_deletes="operation = 'DELETE'",
    column_list=["userId", "name", "city"],
    stored_as_scd_type=2,
    track_history_column_list=["name"],
    name="track_name_flow",
)


@dlt.view
def profile_changes():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .schema("id INT, email STRING, phone STRING, seq INT")
        .load("{LANDING}/profiles")
    )


dlt.create_streaming_table("profiles_keep")
dlt.apply_changes(
    target="profiles_keep",
    source="profile_changes",
    keys=["id"],
    sequence_by="seq",
    except_column_list=["seq"],
    ignore_null_updates=True,
)

dlt.create_streaming_table("profiles_plain")
dlt.apply_changes(
    target="profiles_plain",
    source="profile_changes",
    keys=["id"],
    sequence_by="seq",
    except_column_list=["seq"],
)
'''

SCD2_COLUMNS = ["userId", "name", "city", "__START_AT", "__END_AT"]


def _snapshot(pipeline: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "users_scd1": table_rows(pipeline, "users_scd1", ["userId", "name", "city"]),
        "users_scd2": table_rows(pipeline, "users_scd2", SCD2_COLUMNS),
        "users_scd2_except_city": table_rows(pipeline, "users_scd2_except_city", SCD2_COLUMNS),
        "users_scd2_track_name": table_rows(pipeline, "users_scd2_track_name", SCD2_COLUMNS),
        "profiles_keep": table_rows(pipeline, "profiles_keep", ["id", "email", "phone"]),
        "profiles_plain": table_rows(pipeline, "profiles_plain", ["id", "email", "phone"]),
    }


@pytest.fixture(scope="module")
def cdc(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pipeline = make_pipeline(spark, tmp_path_factory.mktemp("rs_cdc"), "rs_cdc", PIPELINE)
    users = pipeline.volume_path(f"{LANDING}/users")
    profiles = pipeline.volume_path(f"{LANDING}/profiles")
    drop_file(users, "users_1.json", USERS_1)
    drop_file(profiles, "profiles_1.json", PROFILES_1)
    runs, tables = {"u1": pipeline.run()}, {}
    tables["u1"] = _snapshot(pipeline)
    drop_file(users, "users_2.json", USERS_2)
    drop_file(profiles, "profiles_2.json", PROFILES_2)
    runs["u2"] = pipeline.run()
    tables["u2"] = _snapshot(pipeline)
    drop_file(users, "users_3.json", USERS_3)
    runs["u3"] = pipeline.run(refresh=["users_scd1"])
    tables["u3"] = _snapshot(pipeline)
    runs["u4"] = pipeline.run(full_refresh_selection=["users_scd1", "users_scd2"])
    tables["u4"] = _snapshot(pipeline)
    return {"pipeline": pipeline, "runs": runs, "tables": tables}


def test_updates_complete(cdc):
    for name, result in cdc["runs"].items():
        assert result.status == "COMPLETED", (name, result.error)


def test_first_update_loads_the_initial_users(cdc):
    first = cdc["tables"]["u1"]
    assert first["users_scd1"] == [
        (123, "Isabel", "Monterrey"),
        (124, "Raul", "Oaxaca"),
        (125, "Mercedes", "Tijuana"),
        (126, "Lily", "Cancun"),
    ]
    assert first["users_scd2"] == [
        (123, "Isabel", "Monterrey", 1, None),
        (124, "Raul", "Oaxaca", 1, None),
        (125, "Mercedes", "Tijuana", 2, None),
        (126, "Lily", "Cancun", 2, None),
    ]


def test_scd1_matches_the_published_table_after_the_second_update(cdc):
    assert cdc["tables"]["u2"]["users_scd1"] == SCD1_RESULT
    assert cdc["pipeline"].table("users_scd1").columns == ["userId", "name", "city"]


def test_scd2_matches_the_published_table(cdc):
    assert cdc["tables"]["u2"]["users_scd2"] == SCD2_RESULT
    table = cdc["pipeline"].table("users_scd2")
    assert table.columns == SCD2_COLUMNS
    assert table.schema["__START_AT"].dataType == IntegerType()  # the type of sequenceNum
    assert table.schema["__END_AT"].dataType == IntegerType()


def test_track_history_lists_match_the_published_table(cdc):
    second = cdc["tables"]["u2"]
    assert second["users_scd2_except_city"] == SCD2_EXCEPT_CITY_RESULT
    # tracking only `name` is the same as tracking everything except `city`
    assert second["users_scd2_track_name"] == SCD2_EXCEPT_CITY_RESULT


def test_column_list_keeps_only_listed_columns(cdc):
    # users_scd2_track_name lists its columns instead of excluding operation and sequenceNum
    assert cdc["pipeline"].table("users_scd2_track_name").columns == SCD2_COLUMNS


def test_ignore_null_updates(cdc):
    second = cdc["tables"]["u2"]
    assert second["profiles_keep"] == [(1, "a@x.org", "999"), (2, "b@x.org", "222")]
    assert second["profiles_plain"] == [(1, None, "999"), (2, None, None)]


def test_truncate_in_a_later_update_matches_the_published_table(cdc):
    third = cdc["tables"]["u3"]
    assert third["users_scd1"] == SCD1_WITH_TRUNCATE_RESULT
    assert third["users_scd2"] == SCD2_RESULT  # the SCD2 flows never see the truncate


def test_auto_cdc_metrics_have_upserts_and_deletes_but_no_output_rows(cdc):
    pipeline, runs = cdc["pipeline"], cdc["runs"]
    first = metrics(pipeline, runs["u1"], "users_scd1")
    assert first == {"num_upserted_rows": 4, "num_deleted_rows": 0}
    # u2: 125 updated at 6, 123 deleted at 6; the late events at 5 change nothing
    assert metrics(pipeline, runs["u2"], "users_scd1") == {"num_upserted_rows": 1, "num_deleted_rows": 1}
    # u3: the truncate at 3 removes 124 and 126 (last written at 1 and 2), keeps 125 (at 6)
    assert metrics(pipeline, runs["u3"], "users_scd1") == {"num_upserted_rows": 0, "num_deleted_rows": 2}
    for flow in ("users_scd2", "track_name_flow", "profiles_keep"):
        assert "num_output_rows" not in metrics(pipeline, runs["u2"], flow)
        assert "num_upserted_rows" in metrics(pipeline, runs["u2"], flow)


def test_full_refresh_rebuilds_the_targets_from_scratch(cdc):
    pipeline, runs, rebuilt = cdc["pipeline"], cdc["runs"], cdc["tables"]["u4"]
    # state reset: had the per-key sequences survived, every replayed event would be stale
    assert rebuilt["users_scd1"] == SCD1_WITH_TRUNCATE_RESULT
    assert rebuilt["users_scd2"] == SCD2_RESULT
    # all three files were read again in one micro-batch and applied to empty targets
    assert metrics(pipeline, runs["u4"], "users_scd2") == {"num_upserted_rows": 7, "num_deleted_rows": 0}
    assert runs["u4"].flows["users_scd2"].num_batches == 1
    # tables outside the selection were not touched
    assert runs["u4"].flows["users_scd2_except_city"].status == "EXCLUDED"
    assert rebuilt["users_scd2_except_city"] == SCD2_EXCEPT_CITY_RESULT
