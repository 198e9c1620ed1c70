"""Great Expectations suites: stored JSON matches the code; runs on Spark tables find real defects."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipeline.utils.errors import QualitySuiteError
from quality_suites.definitions import SUITES
from quality_suites.runner import run_suites
from quality_suites.store import SUITES_DIR, load_suite, stored_suite_json, suite_json

NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
T = dt.datetime(2026, 1, 4, 10, 0)


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(SUITES))
def test_stored_json_matches_the_code(name: str) -> None:
    assert stored_suite_json(name) == suite_json(name), "run `python -m quality_suites` to refresh"
    assert [e.expectation_type for e in load_suite(name).expectations] == [
        e["type"] for e in suite_json(name)["expectations"]
    ]


@pytest.mark.unit
def test_stale_or_missing_json_is_refused(tmp_path: Path) -> None:
    shutil.copy(SUITES_DIR / "silver_orders.json", tmp_path / "silver_orders.json")
    data = json.loads((tmp_path / "silver_orders.json").read_text())
    data["expectations"] = data["expectations"][:-1]
    (tmp_path / "silver_orders.json").write_text(json.dumps(data))
    with pytest.raises(QualitySuiteError) as info:
        load_suite("silver_orders", tmp_path)
    assert info.value.suite == "silver_orders" and "stale" in info.value.reason
    with pytest.raises(QualitySuiteError) as info:
        load_suite("gold_daily_orders", tmp_path)
    assert "does not exist" in info.value.reason


def _tables(spark: Any, db: str, *, broken: bool) -> None:
    spark.sql(f"CREATE DATABASE {db}")
    orders = [
        ("ORD-000000001", "CUST-0000001", "paid", T, T, "web"),
        ("ORD-000000002", "CUST-0000002", "delivered", T + dt.timedelta(hours=5), T, "mobile_app"),
    ]
    lines = [
        ("ORD-000000001", "SKU-00001", 2, Decimal("10.00"), Decimal("1.00"), Decimal("19.00")),
        ("ORD-000000002", "SKU-00002", 1, Decimal("5.50"), Decimal("0.00"), Decimal("5.50")),
    ]
    customers = [("CUST-0000001", "a@example.com", "gold"), ("CUST-0000002", "b@example.com", "bronze")]
    gold = [(T.date(), 2, 3, Decimal("24.50"))]
    if broken:
        orders.append(
            ("ORD-000000002", "CUST-0000009", "teleported", T, T, "web")
        )  # dup id, bad status, orphan customer
        lines.append(
            ("ORD-000000404", "SKU-00003", 0, Decimal("1.00"), Decimal("0.00"), Decimal("0.00"))
        )  # orphan, qty 0
    spark.createDataFrame(
        orders,
        "order_id string, customer_id string, status string, event_time timestamp, order_time timestamp, channel string",
    ).write.format("delta").saveAsTable(f"{db}.silver_orders")
    spark.createDataFrame(
        lines,
        "order_id string, sku string, quantity int, unit_price decimal(18,2), discount decimal(18,2), line_total decimal(18,2)",
    ).write.format("delta").saveAsTable(f"{db}.silver_order_lines")
    spark.createDataFrame(customers, "customer_id string, email string, tier string").write.format(
        "delta"
    ).saveAsTable(f"{db}.silver_customers")
    spark.createDataFrame(
        gold, "order_date date, orders bigint, units bigint, revenue decimal(18,2)"
    ).write.format("delta").saveAsTable(f"{db}.gold_daily_orders")


@pytest.mark.spark
def test_all_suites_pass_on_consistent_tables_and_write_data_docs(spark: Any, tmp_path: Path) -> None:
    db = f"gxq_ok_{uuid.uuid4().hex[:8]}"
    _tables(spark, db, broken=False)
    docs = tmp_path / "data_docs"
    runs = run_suites(spark, db, run_id="run-ok", now=NOW, docs_dir=docs)
    assert [r.suite for r in runs] == sorted(SUITES)
    assert {r.suite: [x.expectation for x in r.failed] for r in runs} == {name: [] for name in SUITES}
    rows = [row for r in runs for row in r.rows]
    assert len(rows) == sum(len(suite_json(n)["expectations"]) for n in SUITES)
    recon = {
        r.expectation + ":" + (r.column_name or ""): r for r in rows if r.suite == "reconcile_silver_gold"
    }
    assert recon["expect_column_pair_values_to_be_equal:silver_revenue,gold_revenue"].unexpected_count == 0
    counted = next(
        r
        for r in rows
        if r.suite == "silver_orders" and r.expectation == "expect_table_row_count_to_be_between"
    )
    assert counted.observed_value == "2"
    assert all(r.run_id == "run-ok" and r.evaluated_at == NOW for r in rows)
    assert (docs / "index.html").is_file()
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == len(SUITES)


@pytest.mark.spark
def test_broken_tables_fail_the_expected_expectations(spark: Any) -> None:
    db = f"gxq_bad_{uuid.uuid4().hex[:8]}"
    _tables(spark, db, broken=True)
    runs = run_suites(
        spark,
        db,
        run_id="run-bad",
        now=NOW,
        suites=[
            "silver_orders",
            "silver_order_lines",
            "ri_order_lines_orders",
            "ri_orders_customers",
            "reconcile_silver_gold",
        ],
    )
    failed = {
        r.suite: sorted((x.expectation, x.column_name, x.unexpected_count) for x in r.failed) for r in runs
    }
    assert failed == {
        "silver_orders": [
            ("expect_column_values_to_be_in_set", "status", 1),
            ("expect_column_values_to_be_unique", "order_id", 2),
        ],
        "silver_order_lines": [("expect_column_values_to_be_between", "quantity", 1)],
        "ri_order_lines_orders": [("expect_column_values_to_not_be_null", "parent_order_id", 1)],
        "ri_orders_customers": [("expect_column_values_to_not_be_null", "known_customer_id", 1)],
        # the duplicated ORD-000000002 joins its line twice: silver revenue and units no longer match gold
        "reconcile_silver_gold": [
            ("expect_column_pair_values_to_be_equal", "silver_revenue,gold_revenue", 1),
            ("expect_column_pair_values_to_be_equal", "silver_units,gold_units", 1),
        ],
    }


@pytest.mark.spark
def test_missing_table_names_suite_and_table(spark: Any) -> None:
    with pytest.raises(QualitySuiteError) as info:
        run_suites(spark, "no_such_db_gxq", run_id="r", now=NOW, suites=["gold_daily_orders"])
    assert info.value.suite == "gold_daily_orders"
    assert "no_such_db_gxq.gold_daily_orders" in info.value.reason
