"""Silver: typed order events, the quarantine, current order state, lines, status history, customers.

Deduplication follows docs/data-contract.md: among the *valid* events of an order the current state
is the one with the greatest ``(event_time, status_rank, event_id)``; identical duplicates collapse
and a conflicting duplicate loses to the greater ``event_id``. Amounts are ``DECIMAL(18,2)``, so
sums are exact; times are UTC timestamps (the session time zone of a Databricks pipeline).
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from .data_quality import ORDER_STATUSES, Rule, failed_rules_sql, passes_all_sql

__all__ = [
    "MONEY",
    "SCD2_TRACKED_COLUMNS",
    "current_orders",
    "customer_changes",
    "customer_order_history",
    "order_lines",
    "prepare_order_events",
    "quarantined_events",
    "status_history",
    "status_rank",
    "valid_events",
]

MONEY = "DECIMAL(18,2)"
#: docs/data-contract.md: a new SCD2 version opens when one of these changes.
SCD2_TRACKED_COLUMNS: tuple[str, ...] = ("email", "first_name", "last_name", "address", "tier")

_METADATA = ("_ingested_at", "_source_file", "_batch_id", "_file_modification_time")


def _optional(df: DataFrame, name: str, sql_type: str) -> Column:
    """A column that appears only after a schema drift (NULL, typed, until then)."""
    if name in df.columns:
        return F.expr(f"try_cast({name} AS {sql_type})")
    return F.lit(None).cast(sql_type)


def prepare_order_events(bronze: DataFrame) -> DataFrame:
    """Bronze order rows (string leaves) -> typed event columns the data-quality rules judge.

    ``shipping_cost`` is the pinned DOUBLE, or, from the drift batch on, the ``amount`` of the
    object Auto Loader put in ``_rescued_data``. Non-numeric quantities and prices become NULL
    (``try_cast``) for the rules to catch.
    """
    rescued_amount = F.expr(f"try_cast(get_json_object(_rescued_data, '$.shipping_cost.amount') AS {MONEY})")
    return bronze.select(
        F.col("event_id"),
        F.col("order_id"),
        F.col("customer_id"),
        F.col("status"),
        F.expr("try_cast(event_time AS TIMESTAMP)").alias("event_time"),
        F.expr("try_cast(order_time AS TIMESTAMP)").alias("order_time"),
        F.col("currency"),
        F.col("channel"),
        F.col("payment_method"),
        F.col("coupon_code"),
        F.col("shipping_address"),
        F.coalesce(F.col("shipping_cost").cast(MONEY), rescued_amount).alias("shipping_cost"),
        _optional(bronze, "gift_wrap", "BOOLEAN").alias("gift_wrap"),
        F.expr(
            "transform(items, i -> named_struct("
            "'sku', i.sku, "
            "'quantity', try_cast(i.quantity AS INT), "
            f"'unit_price', try_cast(i.unit_price AS {MONEY}), "
            f"'discount', try_cast(i.discount AS {MONEY})))"
        ).alias("items"),
        F.col("_corrupt_record"),
        F.col("_rescued_data"),
        *[F.col(c) for c in _METADATA],
    )


def valid_events(events: DataFrame, rules: Iterable[Rule]) -> DataFrame:
    """The rows passing every rule (what ``expect_all_or_drop`` keeps; for tests and reports)."""
    return events.where(passes_all_sql(rules))


def quarantined_events(events: DataFrame, rules: Iterable[Rule]) -> DataFrame:
    """The rows failing at least one rule, with ``failed_rules`` (names) and the raw record."""
    rules = tuple(rules)
    return (
        events.withColumn("failed_rules", F.expr(failed_rules_sql(rules)))
        .where(F.size("failed_rules") > 0)
        .withColumn(
            "raw_record",
            F.coalesce(
                F.col("_corrupt_record"),
                F.to_json(F.struct(*[c for c in events.columns if c != "_corrupt_record"])),
            ),
        )
        .select(
            "failed_rules",
            "event_id",
            "order_id",
            "customer_id",
            "status",
            "event_time",
            "raw_record",
            *_METADATA,
        )
    )


def status_rank(status: Column) -> Column:
    """created 1, paid 2, shipped 3, delivered 4, cancelled 5, returned 6 (0 for anything else)."""
    return F.array_position(F.array(*[F.lit(s) for s in ORDER_STATUSES]), status).cast("int")


def current_orders(events: DataFrame) -> DataFrame:
    """One row per order: its latest valid event, plus revenue, units, order value, date parts."""
    latest = Window.partitionBy("order_id").orderBy(
        F.col("event_time").desc(), F.col("_status_rank").desc(), F.col("event_id").desc()
    )
    revenue = F.expr(
        f"aggregate(items, cast(0 AS {MONEY}), "
        f"(acc, i) -> cast(acc + i.quantity * i.unit_price - i.discount AS {MONEY}))"
    )
    return (
        events.withColumn("_status_rank", status_rank(F.col("status")))
        .withColumn("_rn", F.row_number().over(latest))
        .where("_rn = 1")
        .select(
            "order_id",
            "customer_id",
            "status",
            "_status_rank",
            "event_id",
            "event_time",
            "order_time",
            F.to_date("order_time").alias("order_date"),
            F.hour("order_time").alias("order_hour"),
            F.date_format("order_time", "EEEE").alias("order_weekday"),
            "currency",
            "channel",
            "payment_method",
            "coupon_code",
            "shipping_address",
            "shipping_cost",
            "gift_wrap",
            "items",
            F.expr("cast(aggregate(items, 0L, (acc, i) -> acc + i.quantity) AS BIGINT)").alias("units"),
            revenue.alias("revenue"),
            "_source_file",
            "_batch_id",
        )
        .withColumn("order_value", (F.col("revenue") + F.coalesce("shipping_cost", F.lit(0))).cast(MONEY))
        .withColumnRenamed("_status_rank", "status_rank")
    )


def order_lines(orders: DataFrame) -> DataFrame:
    """One row per item of each current order, with line amounts and the order's date parts."""
    return orders.select(
        "order_id",
        "customer_id",
        "status",
        "channel",
        "order_time",
        "order_date",
        "order_hour",
        "order_weekday",
        "order_value",
        F.posexplode("items").alias("line_index", "item"),
    ).select(
        "order_id",
        (F.col("line_index") + 1).alias("line_number"),
        F.col("item.sku").alias("sku"),
        F.col("item.quantity").alias("quantity"),
        F.col("item.unit_price").alias("unit_price"),
        F.col("item.discount").alias("discount"),
        (F.col("item.quantity") * F.col("item.unit_price")).cast(MONEY).alias("line_gross"),
        (F.col("item.quantity") * F.col("item.unit_price") - F.col("item.discount"))
        .cast(MONEY)
        .alias("line_total"),
        "customer_id",
        "status",
        "channel",
        "order_time",
        "order_date",
        "order_hour",
        "order_weekday",
        "order_value",
    )


def status_history(events: DataFrame) -> DataFrame:
    """Every distinct status event of every order, in order, with the previous status and its duration.

    Identical duplicates share an ``event_id``; conflicting duplicates share ``(order_id, status,
    event_time)`` and the greater ``event_id`` is kept, as in the current-state rule.
    """
    same_event = Window.partitionBy("order_id", "status", "event_time").orderBy(F.col("event_id").desc())
    in_order = Window.partitionBy("order_id").orderBy("event_time", "status_rank", "event_id")
    return (
        events.select("order_id", "status", "event_time", "event_id", "_batch_id")
        .withColumn("_rn", F.row_number().over(same_event))
        .where("_rn = 1")
        .withColumn("status_rank", status_rank(F.col("status")))
        .withColumn("previous_status", F.lag("status").over(in_order))
        .withColumn("previous_event_time", F.lag("event_time").over(in_order))
        .select(
            "order_id",
            "status",
            "status_rank",
            "event_time",
            "event_id",
            "previous_status",
            (
                (F.col("event_time").cast("long") - F.col("previous_event_time").cast("long")) / F.lit(60.0)
            ).alias("minutes_since_previous"),
            "_batch_id",
        )
    )


def customer_changes(bronze: DataFrame) -> DataFrame:
    """The customer change feed, typed, for AUTO CDC (keys ``customer_id``, sequence ``sequence_num``)."""
    return bronze.select(
        F.col("customer_id"),
        F.col("sequence_num").cast("BIGINT").alias("sequence_num"),
        F.upper(F.col("operation")).alias("operation"),
        F.expr("try_cast(change_time AS TIMESTAMP)").alias("change_time"),
        *[F.col(c) for c in SCD2_TRACKED_COLUMNS],
        F.expr("try_cast(signup_time AS TIMESTAMP)").alias("signup_time"),
        F.col("_source_file"),
        F.col("_batch_id"),
    )


def customer_order_history(orders: DataFrame) -> DataFrame:
    """Per customer: first and last order, order count, total spend (all statuses) and net spend."""
    kept = ~F.col("status").isin("cancelled", "returned")
    return orders.groupBy("customer_id").agg(
        F.min("order_time").alias("first_order_time"),
        F.max("order_time").alias("last_order_time"),
        F.count("*").alias("order_count"),
        F.sum("units").alias("total_units"),
        F.sum("revenue").cast(MONEY).alias("total_spend"),
        F.coalesce(F.sum(F.when(kept, F.col("revenue"))), F.lit(0)).cast(MONEY).alias("net_spend"),
        F.sum(F.when(F.col("status") == "cancelled", 1).otherwise(0)).alias("cancelled_orders"),
        F.sum(F.when(F.col("status") == "returned", 1).otherwise(0)).alias("returned_orders"),
    )
