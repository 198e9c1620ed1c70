"""Issue 3, points 3 and 4: a triggered update as Databricks runs it, on local Spark + Delta.

Oracle (shared/reference/dlt-semantics.md §3, §11): a streaming table processes only new input on
the next update; a materialized view is recomputed and replaced in one commit; `@dlt.table` is a
streaming table or an MV by the query it returns; views and temporary/private tables are not
published; comment, table_properties, partition_cols, cluster_by, schema, path and per-flow
spark_conf are applied; `configuration` is visible through spark.conf.get; /Volumes paths map under
the state directory for reads and writes; settings that cannot be honoured are warned once by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rt_helpers import detail, events, flow_terminal, make_pipeline, rows, version, write_json

from harness.shim.records import DatasetKind

pytestmark = pytest.mark.spark

NAME = "rt_update"
PIPELINE = """
    import dlt
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

    SOURCE = spark.conf.get("rt.source")  # configuration is visible at import time, as on Databricks
    DDL = "id INT, country STRING, amount DOUBLE"

    @dlt.table(comment="raw orders", table_properties={"quality": "bronze"}, partition_cols=["country"])
    def bronze():
        return spark.readStream.format("json").schema(DDL).load(SOURCE)

    @dlt.table(name="totals", comment="per country", cluster_by=["country"], table_properties={"quality": "gold"})
    def totals_function():
        return (
            dlt.read("bronze")
            .groupBy("country")
            .agg(F.sum("amount").alias("total"), F.count(F.lit(1)).alias("n"))
        )

    @dlt.view
    def big_orders():
        return spark.read.table("LIVE.bronze").where("amount > 10")

    @dlt.table(temporary=True)
    def big_count():
        return spark.sql("SELECT count(*) AS n FROM LIVE.big_orders")

    @dlt.table(private=True)
    def private_copy():
        return dlt.read("big_orders")

    SILVER = StructType([
        StructField("id", IntegerType(), True, {"comment": "order id"}),
        StructField("country", StringType()),
        StructField("amount", DoubleType()),
        StructField("marker", StringType()),
    ])

    @dlt.table(schema=SILVER, path="/Volumes/main/rt_update/store/silver", spark_conf={"rt.flow.marker": "on"})
    def silver():
        marker = spark.conf.get("rt.flow.marker", "off")
        return dlt.read_stream("bronze").where("id IS NOT NULL").withColumn("marker", F.lit(marker))

    @dlt.table(schema="country STRING COMMENT 'iso code', n BIGINT")
    def countries():
        return dlt.read("bronze").groupBy("country").agg(F.count(F.lit(1)).alias("n"))
"""

RUN1 = [
    {"id": 1, "country": "US", "amount": 5.0},
    {"id": 2, "country": "US", "amount": 20.0},
    {"id": 3, "country": "FR", "amount": 30.0},
]
RUN2 = [{"id": 4, "country": "FR", "amount": 1.0}, {"id": 5, "country": "DE", "amount": 50.0}]


@pytest.fixture(scope="module")
def update(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp(NAME)
    pipeline = make_pipeline(
        spark,
        base,
        NAME,
        {"transformations/orders.py": PIPELINE},
        configuration={"rt.source": "/Volumes/main/rt_update/landing/orders"},
        extra_settings={"clusters": [{"label": "default", "num_workers": 4}], "photon": True},
    )
    landing = pipeline.volume_path("/Volumes/main/rt_update/landing/orders")
    write_json(landing, "a.json", RUN1)
    first = pipeline.run()
    totals_path = pipeline.table_path("totals")
    versions_after_first = version(spark, totals_path)
    first_totals = rows(pipeline.table("totals"), "country", "total", "n")
    write_json(landing, "b.json", RUN2)
    second = pipeline.run()
    return {
        "pipeline": pipeline,
        "first": first,
        "second": second,
        "totals_version_1": versions_after_first,
        "first_totals": first_totals,
        "base": base,
    }


def test_both_updates_complete(update: dict[str, Any]) -> None:
    for result in (update["first"], update["second"]):
        assert result.status == "COMPLETED", result.error
        assert {f.status for f in result.flows.values()} == {"COMPLETED"}


def test_streaming_table_processes_only_new_input(update: dict[str, Any]) -> None:
    pipeline = update["pipeline"]
    assert update["first"].flows["bronze"].num_output_rows == 3
    assert update["second"].flows["bronze"].num_output_rows == 2
    assert update["second"].flows["silver"].num_output_rows == 2
    assert rows(pipeline.table("bronze"), "id") == [(1,), (2,), (3,), (4,), (5,)]


def test_materialized_view_is_recomputed_and_replaced_in_one_commit(
    spark: Any, update: dict[str, Any]
) -> None:
    pipeline = update["pipeline"]
    assert update["first_totals"] == [("FR", 30.0, 1), ("US", 25.0, 2)]
    assert rows(pipeline.table("totals"), "country", "total", "n") == [
        ("DE", 50.0, 1),
        ("FR", 31.0, 2),
        ("US", 25.0, 2),
    ]
    path = pipeline.table_path("totals")
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").where(f"version > {update['totals_version_1']}")
    writes = [r for r in history.collect() if r["operation"] == "WRITE"]
    # the whole recomputed result lands in one overwrite commit (a clustering re-apply may follow it)
    assert len(writes) == 1 and writes[0]["operationParameters"]["mode"] == "Overwrite"
    assert update["second"].flows["totals"].num_output_rows == 3


def test_table_kind_is_decided_by_the_returned_dataframe(update: dict[str, Any]) -> None:
    defs = {
        e["details"]["dataset_name"]: e["details"]
        for e in events(update["pipeline"], update["second"], "dataset_definition")
    }
    assert defs["bronze"]["dataset_type"] == DatasetKind.STREAMING_TABLE.name
    assert defs["silver"]["dataset_type"] == DatasetKind.STREAMING_TABLE.name
    assert defs["totals"]["dataset_type"] == DatasetKind.MATERIALIZED_VIEW.name
    assert defs["big_orders"]["dataset_type"] == DatasetKind.VIEW.name


def test_views_and_private_tables_are_not_published(spark: Any, update: dict[str, Any]) -> None:
    pipeline = update["pipeline"]
    db = "main__rt_update"
    for published in ("bronze", "totals", "silver", "countries"):
        assert spark.catalog.tableExists(f"{db}.{published}"), published
    for hidden in ("big_orders", "big_count", "private_copy"):
        assert not spark.catalog.tableExists(f"{db}.{hidden}"), hidden
    # private tables still exist for the pipeline; views are never materialized
    assert rows(pipeline.table("big_count"), "n") == [(3,)]
    assert rows(pipeline.table("private_copy"), "id") == [(2,), (3,), (5,)]
    assert not (Path(pipeline.runtime.store.tables_root) / db / "big_orders").exists()


def test_comment_properties_partitioning_and_clustering_are_applied(
    spark: Any, update: dict[str, Any]
) -> None:
    pipeline = update["pipeline"]
    bronze = detail(spark, pipeline.table_path("bronze"))
    assert bronze["description"] == "raw orders"
    assert bronze["partitionColumns"] == ["country"]
    assert bronze["properties"]["quality"] == "bronze"
    totals = detail(spark, pipeline.table_path("totals"))
    assert totals["description"] == "per country"
    assert totals["properties"]["quality"] == "gold"
    assert totals["clusteringColumns"] == ["country"]


def test_schema_as_structtype_and_ddl_is_applied(spark: Any, update: dict[str, Any]) -> None:
    silver = spark.table("main__rt_update.silver").schema
    assert silver.fieldNames() == ["id", "country", "amount", "marker"]
    assert silver["id"].metadata.get("comment") == "order id"
    countries = spark.table("main__rt_update.countries").schema
    assert [(f.name, f.dataType.simpleString()) for f in countries.fields] == [
        ("country", "string"),
        ("n", "bigint"),
    ]
    assert countries["country"].metadata.get("comment") == "iso code"


def test_path_maps_volumes_for_writes_and_reads(spark: Any, update: dict[str, Any]) -> None:
    base = update["base"]
    silver_dir = base / "state" / "volumes" / "main" / "rt_update" / "store" / "silver"
    assert (silver_dir / "_delta_log").is_dir()
    location = spark.sql("DESCRIBE DETAIL main__rt_update.silver").collect()[0]["location"]
    assert location.removeprefix("file:").rstrip("/") == str(silver_dir)
    assert update["pipeline"].volume_path("/Volumes/main/rt_update/landing/orders") == (
        base / "state" / "volumes" / "main" / "rt_update" / "landing" / "orders"
    )


def test_flow_spark_conf_applies_to_that_flow_only_and_is_restored(
    spark: Any, update: dict[str, Any]
) -> None:
    assert set(rows(spark.table("main__rt_update.silver"), "marker")) == {("on",)}
    assert spark.conf.get("rt.flow.marker", None) is None
    assert spark.conf.get("rt.source", None) is None  # pipeline configuration is restored too


def test_unhonoured_settings_are_warned_once_by_name(update: dict[str, Any]) -> None:
    warnings = [
        e["message"]
        for e in events(update["pipeline"], update["second"], "update_progress")
        if e["level"] == "WARN"
    ]
    assert sum("'clusters'" in w for w in warnings) == 1
    assert sum("'photon'" in w for w in warnings) == 1


def test_flow_progress_reports_rows_written(update: dict[str, Any]) -> None:
    event = flow_terminal(update["pipeline"], update["second"], "bronze")
    assert event["details"]["status"] == "COMPLETED"
    assert event["details"]["metrics"]["num_output_rows"] == 2


# --- a failed flow ------------------------------------------------------------------------------------

FAILING = """
    import dlt

    @dlt.table
    def parsed():
        return spark.read.table("rt_fail_src.vals").selectExpr("CAST(v AS INT) AS v")

    @dlt.table
    def downstream():
        return dlt.read("parsed").selectExpr("v * 2 AS v2")

    @dlt.table
    def stream_parsed():
        return spark.readStream.table("rt_fail_src.vals").selectExpr("CAST(v AS INT) AS v")

    @dlt.table
    def independent():
        return spark.range(4)

    def _checked(v):
        if not v.isdigit():
            raise ValueError(f"bad value {v!r}")
        return int(v)

    @dlt.table
    def udf_parsed():
        from pyspark.sql import functions as F

        return spark.read.table("rt_fail_src.vals").select(F.udf(_checked, "int")("v").alias("v"))
"""


@pytest.fixture(scope="module")
def failing(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rt_fail")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS rt_fail_src LOCATION '{base / 'src_db'}'")
    spark.createDataFrame([("1",), ("2",)], "v STRING").write.format("delta").saveAsTable("rt_fail_src.vals")
    pipeline = make_pipeline(spark, base, "rt_fail", {"transformations/p.py": FAILING})
    first = pipeline.run()
    parsed_version = version(spark, pipeline.table_path("parsed"))
    spark.createDataFrame([("x",)], "v STRING").write.format("delta").mode("append").saveAsTable(
        "rt_fail_src.vals"
    )
    second = pipeline.run()
    yield {"pipeline": pipeline, "first": first, "second": second, "parsed_version": parsed_version}
    spark.sql("DROP DATABASE IF EXISTS rt_fail_src CASCADE")


def test_failed_flow_fails_the_update_and_independent_flows_finish(failing: dict[str, Any]) -> None:
    assert failing["first"].status == "COMPLETED", failing["first"].error
    second = failing["second"]
    assert second.status == "FAILED"
    status = {name: flow.status for name, flow in second.flows.items()}
    assert status == {
        "parsed": "FAILED",
        "stream_parsed": "FAILED",
        "downstream": "SKIPPED",
        "independent": "COMPLETED",
        "udf_parsed": "FAILED",
    }
    assert second.flows["independent"].num_output_rows == 4
    assert set(second.failed_flows) == {"parsed", "stream_parsed", "udf_parsed"}
    progress = events(failing["pipeline"], second, "update_progress")
    assert progress[-1]["details"]["state"] == "FAILED" and progress[-1]["level"] == "ERROR"
    terminal = flow_terminal(failing["pipeline"], second, "parsed")
    assert terminal["details"]["status"] == "FAILED" and terminal["error"]["exceptions"]


def test_a_failing_udf_reports_the_python_error_not_only_the_worker_failure(failing: dict[str, Any]) -> None:
    error = failing["second"].flows["udf_parsed"].error
    assert "ValueError: bad value 'x'" in error, error


def test_failed_flows_leave_no_half_written_table(spark: Any, failing: dict[str, Any]) -> None:
    pipeline = failing["pipeline"]
    assert version(spark, pipeline.table_path("parsed")) == failing["parsed_version"]
    assert rows(pipeline.table("parsed"), "v") == [(1,), (2,)]
    assert rows(pipeline.table("stream_parsed"), "v") == [(1,), (2,)]
    assert rows(pipeline.table("downstream"), "v2") == [(2,), (4,)]


def test_each_update_keeps_its_profile_in_the_event_log(update: dict[str, Any]) -> None:
    """Issue 15, point 1: per phase and per flow, wall time and Spark jobs, kept as a harness_profile event."""
    pipeline, second = update["pipeline"], update["second"]
    [event] = events(pipeline, second, "harness_profile")
    scopes = {(s["kind"], s["name"]): s for s in event["details"]["scopes"]}
    assert {("phase", "analyse"), ("phase", "run_flows"), ("flow", "bronze"), ("flow", "totals")} <= set(
        scopes
    )
    # the streaming flow's micro-batch jobs carry the flow's tag too (the query thread inherits it)
    assert scopes[("flow", "bronze")]["jobs"] >= 1 and scopes[("flow", "totals")]["jobs"] >= 1
    assert event["details"]["jobs"] == sum(s["jobs"] for s in event["details"]["scopes"])
    assert second.profile is not None and second.profile["update_id"] == second.update_id
