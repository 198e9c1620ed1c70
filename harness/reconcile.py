"""Reconcile a pipeline's tables with the simulator's manifest (the oracle of docs/data-contract.md).

`reconcile` reads the reference pipeline's tables through a ``read_table(name) -> DataFrame``
callable (``LocalPipeline.table`` locally; ``lambda t: spark.table(f"{catalog}.{schema}.{t}")`` on
Databricks), computes small aggregates, collects them (kilobytes: one row per day, hour, SKU,
customer) and compares them with the manifest's cumulative ``expected`` section. It returns every
difference as a `Mismatch` naming the table, the key and both values, so a failing run reports all
of them at once. `gold_snapshot` / `snapshot_differences` compare whole tables, for the check that a
full refresh reproduces the gold layer.

The module knows the pipeline only by table and column names (listed in `TABLES`); it imports
neither the pipeline nor the simulator.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = [
    "GOLD_TABLES",
    "TABLES",
    "Mismatch",
    "gold_snapshot",
    "latest_manifest",
    "reconcile",
    "snapshot_differences",
]

#: Tables (and the columns the checks read), by role.
TABLES: Mapping[str, str] = {
    "bronze_orders": "bronze_orders",
    "bronze_customers": "bronze_customers",
    "valid_events": "silver_order_events",
    "quarantine": "silver_orders_quarantine",  # failed_rules ARRAY<STRING>
    "orders": "silver_orders",  # order_id, customer_id, ...
    "customers": "silver_customers",  # SCD2: customer_id, __START_AT, __END_AT
    "daily": "gold_daily_orders",  # order_date, orders, units, revenue
    "hourly": "gold_hourly_orders",  # order_date, order_hour, orders, units, revenue
    "status_channel": "gold_orders_by_status_channel",  # order_date, status, channel, orders, revenue
    "products": "gold_product_performance",  # sku, units, revenue
    "cohorts": "gold_cohort_retention",  # cohort_month, months_since_first, cohort_size
}
GOLD_TABLES: tuple[str, ...] = (
    "gold_daily_orders",
    "gold_hourly_orders",
    "gold_orders_by_status_channel",
    "gold_customer_segments",
    "gold_customer_ltv",
    "gold_product_performance",
    "gold_cohort_retention",
    "gold_kpis",
)

ReadTable = Callable[[str], Any]


@dataclass(frozen=True)
class Mismatch:
    """One difference: ``table`` and ``key`` locate it; ``expected`` is the oracle's value."""

    table: str
    key: str
    expected: Any
    actual: Any

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}

    def __str__(self) -> str:
        return f"{self.table}[{self.key}]: expected {self.expected!r}, got {self.actual!r}"


def latest_manifest(manifest_dir: str | Path) -> dict[str, Any]:
    """The manifest with the highest batch number in a ``manifests/`` folder."""
    files = sorted(Path(manifest_dir).glob("manifest_b*.json"))
    if not files:
        raise FileNotFoundError(f"no manifest_b*.json in {manifest_dir}")
    return json.loads(files[-1].read_text(encoding="utf-8"))


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _compare_maps(
    table: str,
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    out: list[Mismatch],
) -> None:
    for key in sorted(set(expected) | set(actual)):
        exp, act = expected.get(key), actual.get(key)
        if exp != act:
            out.append(Mismatch(table, key, exp, act))


def _rows(df: Any) -> list[dict[str, Any]]:
    return [r.asDict(recursive=True) for r in df.collect()]


def _measures(row: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {n: (_money(row[n]) if n == "revenue" else int(row[n])) for n in names}


def _grouped(
    table: str,
    expected_rows: Iterable[Mapping[str, Any]],
    actual_rows: Iterable[Mapping[str, Any]],
    key: Callable[[Mapping[str, Any]], str],
    measures: tuple[str, ...],
    out: list[Mismatch],
) -> None:
    expected = {key(r): _measures(r, measures) for r in expected_rows}
    actual = {key(r): _measures(r, measures) for r in actual_rows}
    for k in sorted(set(expected) | set(actual)):
        exp, act = expected.get(k), actual.get(k)
        if exp is None or act is None:
            out.append(Mismatch(table, k, exp, act))
            continue
        for m in measures:
            if exp[m] != act[m]:
                out.append(Mismatch(table, f"{k}.{m}", exp[m], act[m]))


def reconcile(read_table: ReadTable, manifest: Mapping[str, Any]) -> list[Mismatch]:
    """Every difference between the pipeline's tables and ``manifest['cumulative']['expected']``."""
    from pyspark.sql import functions as F

    expected = manifest["cumulative"]["expected"]
    out: list[Mismatch] = []
    t = TABLES

    counts = {
        role: read_table(t[role]).count()
        for role in ("bronze_orders", "bronze_customers", "valid_events", "quarantine")
    }
    orders = read_table(t["orders"])
    order_count, customers_with_orders = orders.agg(F.count("*"), F.countDistinct("customer_id")).first()
    _compare_maps(
        "counts",
        {
            f"{t['bronze_orders']}.rows": expected["bronze_order_rows"],
            f"{t['bronze_customers']}.rows": expected["bronze_customer_rows"],
            f"{t['valid_events']}.rows": expected["valid_order_events"],
            f"{t['quarantine']}.rows": expected["quarantined_order_events"],
            f"{t['valid_events']}+{t['quarantine']}.rows": expected["bronze_order_rows"],
            f"{t['orders']}.rows": expected["orders"],
            f"{t['orders']}.distinct_customers": expected["customers_with_orders"],
        },
        {
            f"{t['bronze_orders']}.rows": counts["bronze_orders"],
            f"{t['bronze_customers']}.rows": counts["bronze_customers"],
            f"{t['valid_events']}.rows": counts["valid_events"],
            f"{t['quarantine']}.rows": counts["quarantine"],
            f"{t['valid_events']}+{t['quarantine']}.rows": counts["valid_events"] + counts["quarantine"],
            f"{t['orders']}.rows": order_count,
            f"{t['orders']}.distinct_customers": customers_with_orders,
        },
        out,
    )

    by_rule = {
        r["rule"]: int(r["n"])
        for r in _rows(
            read_table(t["quarantine"])
            .select(F.explode("failed_rules").alias("rule"))
            .groupBy("rule")
            .agg(F.count("*").alias("n"))
        )
    }
    rules = expected["quarantine_by_rule"]
    _compare_maps(
        t["quarantine"],
        dict(rules),
        {r: by_rule.get(r, 0) for r in rules} | {r: n for r, n in by_rule.items() if r not in rules},
        out,
    )

    daily = _rows(
        read_table(t["daily"]).select(
            F.col("order_date").cast("string").alias("date"), "orders", "units", "revenue"
        )
    )
    _grouped(
        t["daily"], expected["daily"], daily, lambda r: str(r["date"]), ("orders", "units", "revenue"), out
    )

    hourly = _rows(
        read_table(t["hourly"]).select(
            F.col("order_date").cast("string").alias("date"),
            F.col("order_hour").alias("hour"),
            "orders",
            "units",
            "revenue",
        )
    )
    _grouped(
        t["hourly"],
        expected["hourly"],
        hourly,
        lambda r: f"{r['date']}T{int(r['hour']):02d}",
        ("orders", "units", "revenue"),
        out,
    )

    status_channel = read_table(t["status_channel"])
    for dim in ("status", "channel"):
        rows = _rows(
            status_channel.groupBy(dim).agg(
                F.sum("orders").alias("orders"), F.sum("revenue").alias("revenue")
            )
        )
        _grouped(
            f"{t['status_channel']}[by {dim}]",
            expected[f"by_{dim}"],
            rows,
            lambda r, d=dim: str(r[d]),
            ("orders", "revenue"),
            out,
        )

    products = _rows(read_table(t["products"]).select("sku", "units", "revenue"))
    _grouped(
        t["products"], expected["products"], products, lambda r: str(r["sku"]), ("units", "revenue"), out
    )

    cohorts = _rows(
        read_table(t["cohorts"])
        .where("months_since_first = 0")
        .select("cohort_month", F.col("cohort_size").alias("customers"))
    )
    _grouped(
        t["cohorts"], expected["cohorts"], cohorts, lambda r: str(r["cohort_month"]), ("customers",), out
    )

    customers = read_table(t["customers"])
    versions = {
        r["customer_id"]: int(r["n"])
        for r in _rows(customers.groupBy("customer_id").agg(F.count("*").alias("n")))
    }
    _compare_maps(t["customers"], dict(expected["scd2_versions"]), versions, out)
    current = customers.where(F.col("__END_AT").isNull()).count()
    _compare_maps(
        t["customers"],
        {"current_versions": expected["current_customers"]},
        {"current_versions": current},
        out,
    )
    return out


def gold_snapshot(
    read_table: ReadTable, tables: Iterable[str] = GOLD_TABLES
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each table, sorted, as plain tuples (for before/after comparisons of small tables)."""
    snapshot = {}
    for name in tables:
        df = read_table(name)
        columns = sorted(df.columns)
        snapshot[name] = sorted((tuple(r) for r in df.select(*columns).collect()), key=repr)
    return snapshot


def snapshot_differences(
    before: Mapping[str, list[tuple[Any, ...]]], after: Mapping[str, list[tuple[Any, ...]]]
) -> list[Mismatch]:
    """Rows present in one snapshot only, per table (key = the row), and row-count differences."""
    out: list[Mismatch] = []
    for table in sorted(set(before) | set(after)):
        rows_a, rows_b = before.get(table, []), after.get(table, [])
        if len(rows_a) != len(rows_b):
            out.append(Mismatch(table, "rows", len(rows_a), len(rows_b)))
        only_a = set(rows_a) - set(rows_b)
        only_b = set(rows_b) - set(rows_a)
        for row in sorted(only_a, key=repr)[:20]:
            out.append(Mismatch(table, repr(row), "present", "missing"))
        for row in sorted(only_b, key=repr)[:20]:
            out.append(Mismatch(table, repr(row), "missing", "present"))
    return out
