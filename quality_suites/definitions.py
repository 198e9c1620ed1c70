"""The suites, in code: one per silver / gold table, plus suites over *check frames*.

Great Expectations validates one batch (one DataFrame) at a time. Referential integrity and
reconciliation span tables, so each is expressed as a small SQL query over the pipeline's tables
(a check frame) whose rows a single-table suite can judge: an orphan line shows up as a NULL
``parent_order_id``, a reconciliation as two columns that must be equal. The SQL uses ``{ns}`` for
the namespace that holds the tables: ``catalog.schema`` on Databricks, the local database
(``catalog__schema``) on the harness.

Table and column names follow the reference pipeline (issue 6); they are gathered here so a
rename is a one-file change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation

__all__ = ["CHECK_FRAMES", "SUITES", "CheckFrame", "SuiteSpec"]

ORDER_STATUSES = ["created", "paid", "shipped", "delivered", "cancelled", "returned"]
CHANNELS = ["web", "mobile_app", "marketplace", "call_center"]
PAYMENT_METHODS = ["card", "paypal", "klarna", "bank_transfer", "gift_card"]
TIERS = ["bronze", "silver", "gold", "platinum"]


@dataclass(frozen=True)
class SuiteSpec:
    """A suite named ``name`` validating ``target`` (a table, or a check frame of that name)."""

    name: str
    target: str
    layer: str
    expectations: Callable[[], list[Expectation]]


@dataclass(frozen=True)
class CheckFrame:
    """A cross-table query a suite validates; ``sql`` refers to tables as ``{ns}.<table>``."""

    name: str
    sql: str
    description: str


def _silver_orders() -> list[Expectation]:
    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=["order_id", "customer_id", "status", "event_time", "order_time", "channel"],
            exact_match=False,
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="order_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        gxe.ExpectColumnValuesToBeUnique(column="order_id"),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=ORDER_STATUSES),
        gxe.ExpectColumnValuesToBeInSet(column="channel", value_set=CHANNELS),
        gxe.ExpectColumnValuesToMatchRegex(column="order_id", regex=r"^ORD-\d{9}$"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="event_time", column_B="order_time", or_equal=True
        ),
    ]


def _silver_order_lines() -> list[Expectation]:
    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=["order_id", "sku", "quantity", "unit_price", "discount", "line_total"],
            exact_match=False,
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="order_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="sku"),
        gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="discount", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="line_total", min_value=0),
    ]


def _silver_customers() -> list[Expectation]:
    return [
        gxe.ExpectTableColumnsToMatchSet(column_set=["customer_id", "email", "tier"], exact_match=False),
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        gxe.ExpectColumnValuesToBeInSet(column="tier", value_set=TIERS),
        gxe.ExpectColumnValuesToMatchRegex(column="customer_id", regex=r"^CUST-\d{7}$"),
    ]


def _gold_daily() -> list[Expectation]:
    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=["order_date", "orders", "units", "revenue"], exact_match=False
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="order_date"),
        gxe.ExpectColumnValuesToBeUnique(column="order_date"),
        gxe.ExpectColumnValuesToBeBetween(column="orders", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="units", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
    ]


def _ri_lines_orders() -> list[Expectation]:
    return [gxe.ExpectColumnValuesToNotBeNull(column="parent_order_id")]


def _ri_orders_customers() -> list[Expectation]:
    return [gxe.ExpectColumnValuesToNotBeNull(column="known_customer_id")]


def _reconciliation() -> list[Expectation]:
    return [
        gxe.ExpectTableRowCountToEqual(value=1),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="silver_orders", column_B="gold_orders"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="silver_revenue", column_B="gold_revenue"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="silver_units", column_B="gold_units"),
    ]


CHECK_FRAMES: dict[str, CheckFrame] = {
    frame.name: frame
    for frame in (
        CheckFrame(
            "ri_order_lines_orders",
            """SELECT l.order_id, o.order_id AS parent_order_id
                 FROM {ns}.silver_order_lines l
                 LEFT JOIN (SELECT DISTINCT order_id FROM {ns}.silver_orders) o ON l.order_id = o.order_id""",
            "every order line belongs to an order in silver_orders",
        ),
        CheckFrame(
            "ri_orders_customers",
            """SELECT o.order_id, c.customer_id AS known_customer_id
                 FROM {ns}.silver_orders o
                 LEFT JOIN (SELECT DISTINCT customer_id FROM {ns}.silver_customers) c
                   ON o.customer_id = c.customer_id""",
            "every order's customer has a version in silver_customers",
        ),
        CheckFrame(
            "reconcile_silver_gold",
            """SELECT s.orders AS silver_orders, g.orders AS gold_orders,
                      s.revenue AS silver_revenue, g.revenue AS gold_revenue,
                      s.units AS silver_units, g.units AS gold_units
                 FROM (SELECT count(DISTINCT o.order_id) AS orders,
                              coalesce(sum(l.line_total), 0) AS revenue,
                              coalesce(sum(l.quantity), 0) AS units
                         FROM {ns}.silver_orders o LEFT JOIN {ns}.silver_order_lines l ON o.order_id = l.order_id) s
                 CROSS JOIN (SELECT coalesce(sum(orders), 0) AS orders, coalesce(sum(revenue), 0) AS revenue,
                                    coalesce(sum(units), 0) AS units
                               FROM {ns}.gold_daily_orders) g""",
            "gold daily totals equal the silver orders and lines they aggregate",
        ),
    )
}

SUITES: dict[str, SuiteSpec] = {
    spec.name: spec
    for spec in (
        SuiteSpec("silver_orders", "silver_orders", "silver", _silver_orders),
        SuiteSpec("silver_order_lines", "silver_order_lines", "silver", _silver_order_lines),
        SuiteSpec("silver_customers", "silver_customers", "silver", _silver_customers),
        SuiteSpec("gold_daily_orders", "gold_daily_orders", "gold", _gold_daily),
        SuiteSpec("ri_order_lines_orders", "ri_order_lines_orders", "silver", _ri_lines_orders),
        SuiteSpec("ri_orders_customers", "ri_orders_customers", "silver", _ri_orders_customers),
        SuiteSpec("reconcile_silver_gold", "reconcile_silver_gold", "gold", _reconciliation),
    )
}
