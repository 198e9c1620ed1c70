"""A tiny pipeline with two updates, the second FAILED, for the pipeline page's tests.

Update 1 completes: bronze (Auto Loader-free JSON stream) -> view -> silver (drop expectation) ->
gold (materialized view) and a Delta sink. Update 2 lands a row that violates silver's
``expect_or_fail``: silver FAILS, gold and the sink are SKIPPED. The configuration holds a
secret-looking key so the page's masking can be checked.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from harness.pipeline import LocalPipeline

NAME = "ui_shop"
SECRET_VALUE = "s3cr3t-hunter2"
CONFIGURATION = {"ui.landing": "", "ui.db_password": SECRET_VALUE, "ui.region": "eu"}

SOURCE = """
import dlt
from pyspark.sql import functions as F

LANDING = spark.conf.get("ui.landing")


@dlt.table(comment="raw orders, as they land")
def bronze_orders():
    return spark.readStream.format("json").schema("id INT, amount DOUBLE, country STRING").load(LANDING)


@dlt.view
def orders_typed():
    return dlt.read_stream("bronze_orders").withColumn("amount_cents", (F.col("amount") * 100).cast("long"))


@dlt.table
@dlt.expect_or_drop("has_country", "country IS NOT NULL")
@dlt.expect("small_amount", "amount < 1000")
@dlt.expect_or_fail("positive_amount", "amount > 0")
def silver_orders():
    return dlt.read_stream("orders_typed")


@dlt.table
def gold_by_country():
    return dlt.read("silver_orders").groupBy("country").agg(F.sum("amount").alias("total"))


dlt.create_sink("orders_export", "delta", {"path": spark.conf.get("ui.landing") + "/../export"})


@dlt.append_flow(target="orders_export")
def export_orders():
    return spark.readStream.table("silver_orders")
"""

BATCH_1 = [
    {"id": 1, "amount": 10.0, "country": "FR"},
    {"id": 2, "amount": 2500.0, "country": "DE"},
    {"id": 3, "amount": 7.5, "country": None},
]
BATCH_2 = [{"id": 4, "amount": -3.0, "country": "FR"}]


def build_state(spark: Any, base: Path) -> tuple[LocalPipeline, list[Any]]:
    """Write the pipeline under base/src, run both updates with state base/state; returns the results."""
    root = base / "src"
    (root / "transformations").mkdir(parents=True, exist_ok=True)
    (root / "transformations" / "shop.py").write_text(textwrap.dedent(SOURCE).lstrip(), encoding="utf-8")
    landing = base / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    settings = {
        "name": NAME,
        "catalog": "main",
        "schema": NAME,
        "libraries": [{"glob": {"include": "transformations/**"}}],
        "configuration": {**CONFIGURATION, "ui.landing": str(landing)},
    }
    pipeline = LocalPipeline(root, settings, state=base / "state", spark=spark, max_concurrent_flows=2)
    results = []
    for number, batch in enumerate((BATCH_1, BATCH_2), start=1):
        (landing / f"batch_{number}.json").write_text("\n".join(json.dumps(r) for r in batch) + "\n")
        results.append(pipeline.run())
    return pipeline, results
