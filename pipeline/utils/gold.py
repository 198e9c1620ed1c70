"""Gold: business aggregates over the current state of every order (``silver_orders``, ``silver_order_lines``).

Grouping follows docs/data-contract.md: by the **order** date / hour (``order_time``, UTC), over all
statuses. Everything "as of now" is as of the newest order date in the data (`as_of_date`), never
the wall clock, so a full refresh reproduces the tables exactly; every ranking has a final
tie-break on its key for the same reason.

Predictive lifetime value (documented in docs/pipeline.md)::

    tenure_days        = as_of_date - first_order_date + 1
    orders_per_year    = kept_orders / max(tenure_days, 30) * 365
    predicted_ltv_12m  = avg_order_value * orders_per_year          (avg over kept orders)
    predicted_ltv_total = historical_ltv + predicted_ltv_12m

where *kept* orders are those neither cancelled nor returned and ``historical_ltv`` is their
revenue. The 30-day floor stops a customer seen on one day from being extrapolated 365 times.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from .silver import MONEY

__all__ = [
    "PRICE_BANDS",
    "RFM_SEGMENTS",
    "cohort_retention",
    "customer_ltv",
    "customer_rfm",
    "daily_kpis",
    "daily_orders",
    "hourly_orders",
    "orders_by_status_channel",
    "product_performance",
    "rfm_segment",
]

RATE = "DECIMAL(9,4)"
#: (upper bound exclusive, name) of the average unit price; the contract has no product catalogue,
#: so products are ranked within these bands instead of a category.
PRICE_BANDS: tuple[tuple[float | None, str], ...] = ((20.0, "budget"), (100.0, "standard"), (None, "premium"))
RFM_SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new_customer",
    "at_risk",
    "hibernating",
    "needs_attention",
)


def _order_measures(orders: DataFrame) -> list[Column]:
    return [
        F.count("*").alias("orders"),
        F.coalesce(F.sum("units"), F.lit(0)).cast("BIGINT").alias("units"),
        F.coalesce(F.sum("revenue"), F.lit(0)).cast(MONEY).alias("revenue"),
        (F.coalesce(F.sum("revenue"), F.lit(0)) / F.count("*")).cast(MONEY).alias("aov"),
        F.countDistinct("customer_id").alias("distinct_customers"),
    ]


def _status_count(status: str) -> Column:
    return F.sum(F.when(F.col("status") == status, 1).otherwise(0)).cast("BIGINT").alias(f"{status}_orders")


def daily_orders(orders: DataFrame) -> DataFrame:
    """Per order date: orders, units, revenue, AOV, distinct customers, orders per final status."""
    return orders.groupBy("order_date").agg(
        *_order_measures(orders),
        *[_status_count(s) for s in ("cancelled", "returned", "delivered")],
    )


def hourly_orders(orders: DataFrame) -> DataFrame:
    """Per order date and hour (UTC)."""
    return orders.groupBy("order_date", "order_hour").agg(*_order_measures(orders))


def orders_by_status_channel(orders: DataFrame) -> DataFrame:
    """Per order date, current status and channel."""
    return orders.groupBy("order_date", "status", "channel").agg(*_order_measures(orders))


def _as_of(orders: DataFrame) -> DataFrame:
    return orders.agg(F.max("order_date").alias("as_of_date"))


def rfm_segment(r: Column, f: Column, m: Column) -> Column:
    """Named segment from 1-5 recency, frequency and monetary scores (classic RFM grid)."""
    return (
        F.when((r >= 4) & (f >= 4) & (m >= 4), "champions")
        .when((r >= 3) & (f >= 4), "loyal")
        .when((r >= 4) & (f >= 2), "potential_loyalist")
        .when((r >= 4) & (f <= 1), "new_customer")
        .when((r <= 2) & (f >= 3), "at_risk")
        .when((r <= 2) & (f <= 2), "hibernating")
        .otherwise("needs_attention")
    )


def customer_rfm(orders: DataFrame) -> DataFrame:
    """Recency (days since last order), frequency (orders), monetary (revenue), 1-5 scores, segment.

    Scores are quintiles (``ntile(5)``) with the customer id as the final tie-break; a higher
    score is better (recent, frequent, big spender).
    """
    per_customer = orders.groupBy("customer_id").agg(
        F.max("order_date").alias("last_order_date"),
        F.count("*").alias("frequency"),
        F.sum("revenue").cast(MONEY).alias("monetary"),
    )
    scored = per_customer.crossJoin(_as_of(orders)).withColumn(
        "recency_days", F.datediff("as_of_date", "last_order_date")
    )
    by = {
        "r_score": Window.orderBy(F.col("recency_days").desc(), "customer_id"),
        "f_score": Window.orderBy("frequency", "customer_id"),
        "m_score": Window.orderBy("monetary", "customer_id"),
    }
    for name, window in by.items():
        scored = scored.withColumn(name, F.ntile(5).over(window))
    return scored.select(
        "customer_id",
        "as_of_date",
        "last_order_date",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        F.concat(
            F.col("r_score").cast("string"), F.col("f_score").cast("string"), F.col("m_score").cast("string")
        ).alias("rfm_score"),
        rfm_segment(F.col("r_score"), F.col("f_score"), F.col("m_score")).alias("segment"),
    )


def customer_ltv(orders: DataFrame) -> DataFrame:
    """Historical and predicted 12-month lifetime value per customer (formula in the module doc)."""
    kept = ~F.col("status").isin("cancelled", "returned")
    per_customer = orders.groupBy("customer_id").agg(
        F.min("order_date").alias("first_order_date"),
        F.max("order_date").alias("last_order_date"),
        F.count("*").alias("orders"),
        F.sum(F.when(kept, 1).otherwise(0)).alias("kept_orders"),
        F.coalesce(F.sum(F.when(kept, F.col("revenue"))), F.lit(0)).cast(MONEY).alias("historical_ltv"),
    )
    with_tenure = per_customer.crossJoin(_as_of(orders)).withColumn(
        "tenure_days", F.datediff("as_of_date", "first_order_date") + 1
    )
    aov = F.when(F.col("kept_orders") > 0, F.col("historical_ltv") / F.col("kept_orders")).otherwise(F.lit(0))
    per_year = F.col("kept_orders") / F.greatest(F.col("tenure_days"), F.lit(30)) * F.lit(365)
    return with_tenure.select(
        "customer_id",
        "as_of_date",
        "first_order_date",
        "last_order_date",
        "tenure_days",
        "orders",
        "kept_orders",
        "historical_ltv",
        aov.cast(MONEY).alias("avg_order_value"),
        per_year.cast("DECIMAL(18,4)").alias("orders_per_year"),
        (aov * per_year).cast(MONEY).alias("predicted_ltv_12m"),
        (F.col("historical_ltv") + aov * per_year).cast(MONEY).alias("predicted_ltv_total"),
    )


def _price_band(price: Column) -> Column:
    expr = None
    for bound, name in PRICE_BANDS:
        if bound is None:
            return expr.otherwise(name) if expr is not None else F.lit(name)
        expr = F.when(price < bound, name) if expr is None else expr.when(price < bound, name)
    return expr  # pragma: no cover - the last band has no bound


def product_performance(lines: DataFrame) -> DataFrame:
    """Per SKU: units, revenue, orders, return and cancellation rates, rank within its price band."""
    per_sku = lines.groupBy("sku").agg(
        F.sum("quantity").cast("BIGINT").alias("units"),
        F.sum("line_total").cast(MONEY).alias("revenue"),
        F.countDistinct("order_id").alias("orders"),
        F.countDistinct(F.when(F.col("status") == "returned", F.col("order_id"))).alias("returned_orders"),
        F.countDistinct(F.when(F.col("status") == "cancelled", F.col("order_id"))).alias("cancelled_orders"),
        (F.sum("line_gross") / F.sum("quantity")).cast(MONEY).alias("avg_unit_price"),
    )
    band = Window.partitionBy("price_band").orderBy(F.col("revenue").desc(), "sku")
    return (
        per_sku.withColumn("return_rate", (F.col("returned_orders") / F.col("orders")).cast(RATE))
        .withColumn("cancellation_rate", (F.col("cancelled_orders") / F.col("orders")).cast(RATE))
        .withColumn("price_band", _price_band(F.col("avg_unit_price")))
        .withColumn("rank_in_price_band", F.row_number().over(band))
    )


def cohort_retention(orders: DataFrame) -> DataFrame:
    """First-order month x months since: active customers, cohort size and retention rate."""
    first = orders.groupBy("customer_id").agg(F.trunc(F.min("order_date"), "month").alias("cohort_start"))
    activity = orders.select("customer_id", F.trunc("order_date", "month").alias("activity_month")).distinct()
    joined = activity.join(first, "customer_id").withColumn(
        "months_since_first", F.months_between("activity_month", "cohort_start").cast("int")
    )
    sizes = first.groupBy("cohort_start").agg(F.count("*").alias("cohort_size"))
    return (
        joined.groupBy("cohort_start", "months_since_first")
        .agg(F.countDistinct("customer_id").alias("active_customers"))
        .join(sizes, "cohort_start")
        .select(
            F.date_format("cohort_start", "yyyy-MM").alias("cohort_month"),
            "months_since_first",
            "cohort_size",
            "active_customers",
            (F.col("active_customers") / F.col("cohort_size")).cast(RATE).alias("retention_rate"),
        )
    )


def daily_kpis(orders: DataFrame) -> DataFrame:
    """Per order date: AOV, revenue growth day over day and week over week, cancellation, return and
    repeat-purchase rates (share of the day's orders placed by a customer who had ordered before)."""
    first_order = Window.partitionBy("customer_id").orderBy("order_time", "order_id")
    flagged = orders.withColumn("is_repeat", F.row_number().over(first_order) > 1)
    daily = flagged.groupBy("order_date").agg(
        F.count("*").alias("orders"),
        F.sum("revenue").cast(MONEY).alias("revenue"),
        (F.sum("revenue") / F.count("*")).cast(MONEY).alias("aov"),
        (F.sum(F.when(F.col("status") == "cancelled", 1).otherwise(0)) / F.count("*"))
        .cast(RATE)
        .alias("cancellation_rate"),
        (F.sum(F.when(F.col("status") == "returned", 1).otherwise(0)) / F.count("*"))
        .cast(RATE)
        .alias("return_rate"),
        (F.sum(F.when(F.col("is_repeat"), 1).otherwise(0)) / F.count("*"))
        .cast(RATE)
        .alias("repeat_purchase_rate"),
    )
    previous = daily.select(F.col("order_date").alias("_d"), F.col("revenue").alias("_rev"))

    def growth(days: int, name: str) -> DataFrame:
        lagged = previous.select(F.date_add("_d", days).alias("order_date"), F.col("_rev").alias(name))
        return lagged

    out = daily.join(growth(1, "revenue_prev_day"), "order_date", "left").join(
        growth(7, "revenue_prev_week"), "order_date", "left"
    )

    def rate(prev: str) -> Column:
        return F.when(F.col(prev) > 0, (F.col("revenue") / F.col(prev) - 1)).cast(RATE)

    return out.select(
        "order_date",
        "orders",
        "revenue",
        "aov",
        rate("revenue_prev_day").alias("revenue_growth_dod"),
        rate("revenue_prev_week").alias("revenue_growth_wow"),
        "cancellation_rate",
        "return_rate",
        "repeat_purchase_rate",
    )
