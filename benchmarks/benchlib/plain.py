"""The hand-written baseline: the pipeline's transformations as plain batch PySpark writing Delta.

Same input folders, same functions from ``pipeline/utils`` (bronze, silver, gold), same tables, but
no harness: no graph, no Auto Loader emulation or checkpoints, no expectation counting, no event log.
What a careful engineer would write by hand for one full load. The SCD2 customer dimension is built
from the change feed with a window (valid from this change's sequence number to the next one's; a
DELETE closes the version and is not a row itself) instead of AUTO CDC; untracked-column changes are
not collapsed, which only makes the baseline cheaper.

``pipeline/`` is a folder of Databricks modules whose ``utils`` package is imported by the pipeline's
own name, so it is put on ``sys.path`` for the import, as the harness does when it loads a pipeline.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from benchlib.workload import PIPELINE_ROOT


@contextmanager
def pipeline_utils() -> Iterator[tuple[ModuleType, ModuleType, ModuleType, ModuleType]]:
    """``utils.bronze, utils.silver, utils.gold, utils.data_quality`` of the pipeline; unloaded after."""

    def ours(name: str) -> bool:
        return name == "utils" or name.startswith("utils.")

    shadowed = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
    sys.path.insert(0, str(PIPELINE_ROOT))
    try:
        from utils import bronze, data_quality, gold, silver

        yield bronze, silver, gold, data_quality
    finally:
        sys.path.remove(str(PIPELINE_ROOT))
        for name in [n for n in sys.modules if ours(n)]:
            del sys.modules[name]
        sys.modules.update(shadowed)


def _write(df: Any, path: Path) -> None:
    df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(str(path))


def run_plain(spark: Any, landing_orders: Path, landing_customers: Path, out: Path) -> dict[str, float]:
    """Bronze -> silver -> gold as batch jobs; returns seconds per layer (sequential, so they add up)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    seconds: dict[str, float] = {}
    with pipeline_utils() as (bronze, silver, gold, dq):
        started = time.perf_counter()

        def landing(path: Path, hints: str) -> Any:
            # Auto Loader with inferColumnTypes=false: every JSON leaf a string, the hinted columns typed
            raw = (
                spark.read.option("primitivesAsString", "true")
                .option("columnNameOfCorruptRecord", "_corrupt_record")
                .json(str(path))
            )
            for column in hints.split(","):
                name, sql_type = column.split()
                value = F.col(name) if name in raw.columns else F.lit(None)
                raw = raw.withColumn(name, value.cast(sql_type))
            if "_rescued_data" not in raw.columns:
                raw = raw.withColumn("_rescued_data", F.lit(None).cast("string"))
            return bronze.with_ingestion_metadata(raw)

        _write(landing(landing_orders, bronze.ORDER_SCHEMA_HINTS), out / "bronze_orders")
        _write(landing(landing_customers, bronze.CUSTOMER_SCHEMA_HINTS), out / "bronze_customers")
        seconds["bronze"] = time.perf_counter() - started

        started = time.perf_counter()
        read = lambda name: spark.read.format("delta").load(str(out / name))  # noqa: E731
        events = silver.prepare_order_events(read("bronze_orders"))
        drop_rules = [r for r in dq.ORDER_RULES if r.severity is dq.Severity.DROP]
        _write(silver.valid_events(events, drop_rules), out / "silver_order_events")
        _write(silver.quarantined_events(events, dq.ORDER_RULES), out / "silver_orders_quarantine")
        valid = read("silver_order_events")
        _write(silver.current_orders(valid), out / "silver_orders")
        orders = read("silver_orders")
        _write(silver.order_lines(orders), out / "silver_order_lines")
        _write(silver.status_history(valid), out / "silver_order_status_history")
        changes = silver.customer_changes(read("bronze_customers"))
        versions = Window.partitionBy("customer_id").orderBy("sequence_num")
        scd2 = (
            changes.withColumn("__START_AT", F.col("sequence_num"))
            .withColumn("__END_AT", F.lead("sequence_num").over(versions))
            .where("operation <> 'DELETE'")
            .drop("operation", "_source_file", "_batch_id")
        )
        _write(scd2, out / "silver_customers")
        _write(silver.customer_order_history(orders), out / "silver_customer_order_history")
        seconds["silver"] = time.perf_counter() - started

        started = time.perf_counter()
        lines = read("silver_order_lines")
        for name, df in {
            "gold_daily_orders": gold.daily_orders(orders),
            "gold_hourly_orders": gold.hourly_orders(orders),
            "gold_orders_by_status_channel": gold.orders_by_status_channel(orders),
            "gold_customer_segments": gold.customer_rfm(orders),
            "gold_customer_ltv": gold.customer_ltv(orders),
            "gold_product_performance": gold.product_performance(lines),
            "gold_cohort_retention": gold.cohort_retention(orders),
            "gold_kpis": gold.daily_kpis(orders),
        }.items():
            _write(df, out / name)
        seconds["gold"] = time.perf_counter() - started
    return seconds
