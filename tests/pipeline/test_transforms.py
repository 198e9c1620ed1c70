"""The plain DataFrame -> DataFrame functions behind the layers, on tiny hand-made frames."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from pipeline.utils import gold
from pipeline.utils.bronze import auto_loader_options
from pipeline.utils.silver import current_orders, customer_order_history, order_lines, status_history

EVENT_SCHEMA = (
    "event_id STRING, order_id STRING, customer_id STRING, status STRING, event_time TIMESTAMP, "
    "order_time TIMESTAMP, currency STRING, channel STRING, payment_method STRING, coupon_code STRING, "
    "shipping_address STRUCT<street: STRING, city: STRING, postal_code: STRING, country: STRING>, "
    "shipping_cost DECIMAL(18,2), gift_wrap BOOLEAN, "
    "items ARRAY<STRUCT<sku: STRING, quantity: INT, unit_price: DECIMAL(18,2), discount: DECIMAL(18,2)>>, "
    "_corrupt_record STRING, _rescued_data STRING, _ingested_at TIMESTAMP, _source_file STRING, _batch_id INT, "
    "_file_modification_time TIMESTAMP"
)
T0 = datetime(2026, 1, 5, 10, 0, 0)


def event(
    event_id: str,
    order_id: str,
    status: str,
    minute: int,
    items: list[tuple[str, int, str, str]],
    customer: str = "C1",
) -> tuple[Any, ...]:
    lines = [(sku, q, Decimal(p), Decimal(d)) for sku, q, p, d in items]
    return (
        event_id, order_id, customer, status, T0.replace(minute=minute), T0, "EUR", "web", "card", None,
        None, Decimal("4.99"), None, lines, None, None, T0, "f", 1, T0,
    )  # fmt: skip


@pytest.mark.unit
def test_auto_loader_options_pin_the_drifting_column() -> None:
    options = auto_loader_options(
        "/Volumes/c/s/v/orders/schemas/bronze_orders", "shipping_cost DOUBLE", max_files_per_trigger=7
    )
    assert options["cloudFiles.schemaHints"] == "shipping_cost DOUBLE"
    assert options["cloudFiles.inferColumnTypes"] == "false"
    assert options["cloudFiles.schemaEvolutionMode"] == "addNewColumns"
    assert options["cloudFiles.maxFilesPerTrigger"] == "7"
    assert options["rescuedDataColumn"] == "_rescued_data"


@pytest.mark.spark
def test_current_state_dedup_rule_and_amounts(spark: Any) -> None:
    item = [("SKU-1", 2, "10.00", "1.50"), ("SKU-2", 1, "5.25", "0.00")]
    rows = [
        event("E1", "O1", "created", 0, item),
        event("E2", "O1", "paid", 5, item),
        event("E2", "O1", "paid", 5, item),  # identical duplicate
        event("E3", "O1", "paid", 5, [("SKU-9", 1, "1.00", "0.00")]),  # conflicting: greater event_id wins
        event("E4", "O2", "delivered", 30, item),
        event("E5", "O2", "returned", 30, item),  # same time: higher status rank wins
        event("E6", "O3", "cancelled", 1, item),
        event("E7", "O3", "created", 0, item),
    ]
    events = spark.createDataFrame(rows, EVENT_SCHEMA)
    orders = {r["order_id"]: r for r in current_orders(events).collect()}
    assert {k: (r["status"], r["event_id"]) for k, r in orders.items()} == {
        "O1": ("paid", "E3"),
        "O2": ("returned", "E5"),
        "O3": ("cancelled", "E6"),
    }
    o2 = orders["O2"]
    assert (o2["units"], o2["revenue"], o2["order_value"]) == (3, Decimal("23.75"), Decimal("28.74"))
    assert (o2["order_date"], o2["order_hour"], o2["order_weekday"]) == (date(2026, 1, 5), 10, "Monday")
    lines = order_lines(current_orders(events)).where("order_id = 'O2'").orderBy("line_number").collect()
    assert [(r["line_number"], r["sku"], r["line_gross"], r["line_total"]) for r in lines] == [
        (1, "SKU-1", Decimal("20.00"), Decimal("18.50")),
        (2, "SKU-2", Decimal("5.25"), Decimal("5.25")),
    ]
    history = status_history(events).where("order_id = 'O1'").orderBy("event_time").collect()
    assert [
        (r["status"], r["event_id"], r["previous_status"], r["minutes_since_previous"]) for r in history
    ] == [
        ("created", "E1", None, None),
        ("paid", "E3", "created", 5.0),
    ]
    per_customer = customer_order_history(current_orders(events)).collect()[0]
    assert (
        per_customer["order_count"],
        per_customer["cancelled_orders"],
        per_customer["returned_orders"],
    ) == (3, 1, 1)
    assert per_customer["net_spend"] == Decimal("1.00")  # only O1 (paid) is kept


ORDER_SCHEMA = "order_id STRING, customer_id STRING, status STRING, channel STRING, order_time TIMESTAMP, order_date DATE, units BIGINT, revenue DECIMAL(18,2)"


def order(
    order_id: str, customer: str, status: str, day: int, revenue: str, units: int = 1
) -> tuple[Any, ...]:
    when = datetime(2026, 1, day, 12, 0, 0)
    return (order_id, customer, status, "web", when, when.date(), units, Decimal(revenue))


@pytest.mark.spark
def test_gold_ltv_formula_kpis_and_cohorts(spark: Any) -> None:
    orders = spark.createDataFrame(
        [
            order("O1", "A", "delivered", 1, "100.00"),
            order("O2", "A", "delivered", 11, "50.00"),
            order("O3", "A", "cancelled", 12, "999.00"),
            order("O4", "B", "delivered", 31, "20.00", units=4),
            order("O5", "C", "returned", 24, "40.00"),
        ],
        ORDER_SCHEMA,
    )
    ltv = {r["customer_id"]: r for r in gold.customer_ltv(orders).collect()}
    a = ltv["A"]  # as of 2026-01-31: tenure 31 days, 2 kept orders, AOV 75
    assert (a["tenure_days"], a["kept_orders"], a["historical_ltv"], a["avg_order_value"]) == (
        31,
        2,
        Decimal("150.00"),
        Decimal("75.00"),
    )
    assert a["predicted_ltv_12m"] == Decimal("1766.13")  # 75 * 2 / 31 * 365
    b = ltv["B"]  # one day of history: the 30-day floor applies
    assert b["predicted_ltv_12m"] == Decimal("243.33")  # 20 * 1 / 30 * 365
    assert ltv["C"]["historical_ltv"] == Decimal("0.00") and ltv["C"]["predicted_ltv_12m"] == Decimal("0.00")

    kpis = {r["order_date"]: r for r in gold.daily_kpis(orders).collect()}
    assert kpis[date(2026, 1, 12)]["repeat_purchase_rate"] == Decimal("1.0000")
    assert kpis[date(2026, 1, 1)]["repeat_purchase_rate"] == Decimal("0.0000")
    assert kpis[date(2026, 1, 12)]["revenue_growth_dod"] == Decimal("18.9800")  # 999 / 50 - 1
    assert kpis[date(2026, 1, 1)]["revenue_growth_dod"] is None  # no orders the day before
    cohorts = {
        (r["cohort_month"], r["months_since_first"]): r for r in gold.cohort_retention(orders).collect()
    }
    assert cohorts[("2026-01", 0)]["cohort_size"] == 3 and cohorts[("2026-01", 0)][
        "retention_rate"
    ] == Decimal("1.0000")

    daily = {r["order_date"]: r for r in gold.daily_orders(orders).collect()}
    assert (daily[date(2026, 1, 31)]["units"], daily[date(2026, 1, 31)]["aov"]) == (4, Decimal("20.00"))
    segments = gold.customer_rfm(orders).orderBy("customer_id").collect()
    assert [r["recency_days"] for r in segments] == [19, 0, 7]
    assert all(r["segment"] in gold.RFM_SEGMENTS for r in segments)
    assert gold.customer_rfm(orders).orderBy("customer_id").collect() == segments  # deterministic ranks
