"""Gold: daily / hourly order aggregates, segments, lifetime value, products, cohorts, KPIs.

Materialized views over the current orders; the aggregations are in utils/gold.py (the predictive
LTV formula is documented there and in docs/pipeline.md).
"""

import dlt
from utils import gold


def _gold(name: str, comment: str):
    return dlt.table(name=name, comment=comment, table_properties={"quality": "gold"})


@_gold("gold_daily_orders", "Per order date: orders, units, revenue, AOV, distinct customers, status counts.")
def gold_daily_orders():
    return gold.daily_orders(dlt.read("silver_orders"))


@_gold("gold_hourly_orders", "Per order date and hour (UTC): orders, units, revenue, AOV, customers.")
def gold_hourly_orders():
    return gold.hourly_orders(dlt.read("silver_orders"))


@_gold("gold_orders_by_status_channel", "Per order date, status and channel: orders, units, revenue, AOV.")
def gold_orders_by_status_channel():
    return gold.orders_by_status_channel(dlt.read("silver_orders"))


@_gold("gold_customer_segments", "RFM scores (1-5) and named segments per customer.")
def gold_customer_segments():
    return gold.customer_rfm(dlt.read("silver_orders"))


@_gold("gold_customer_ltv", "Historical and predicted 12-month lifetime value per customer.")
def gold_customer_ltv():
    return gold.customer_ltv(dlt.read("silver_orders"))


@_gold("gold_product_performance", "Per SKU: units, revenue, return/cancellation rates, rank in price band.")
def gold_product_performance():
    return gold.product_performance(dlt.read("silver_order_lines"))


@_gold("gold_cohort_retention", "First-order month x months since: active customers and retention rate.")
def gold_cohort_retention():
    return gold.cohort_retention(dlt.read("silver_orders"))


@_gold("gold_kpis", "Daily KPIs: AOV, revenue growth DoD/WoW, cancellation, return, repeat-purchase rates.")
def gold_kpis():
    return gold.daily_kpis(dlt.read("silver_orders"))
