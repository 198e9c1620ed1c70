"""harness.reconcile's comparison logic without Spark: mismatches name table, key and both values."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from harness.reconcile import Mismatch, _compare_maps, _grouped, latest_manifest, snapshot_differences

pytestmark = pytest.mark.unit


def test_grouped_reports_each_measure_and_missing_keys() -> None:
    out: list[Mismatch] = []
    expected = [
        {"date": "2026-01-01", "orders": 3, "units": 5, "revenue": "10.50"},
        {"date": "2026-01-02", "orders": 1, "units": 1, "revenue": "2.00"},
    ]
    actual = [
        {"date": "2026-01-01", "orders": 3, "units": 6, "revenue": Decimal("10.5")},
        {"date": "2026-01-03", "orders": 1, "units": 1, "revenue": Decimal("2.00")},
    ]
    _grouped("gold_daily_orders", expected, actual, lambda r: r["date"], ("orders", "units", "revenue"), out)
    assert [(m.table, m.key, m.expected, m.actual) for m in out] == [
        ("gold_daily_orders", "2026-01-01.units", 5, 6),
        ("gold_daily_orders", "2026-01-02", {"orders": 1, "units": 1, "revenue": Decimal("2.00")}, None),
        ("gold_daily_orders", "2026-01-03", None, {"orders": 1, "units": 1, "revenue": Decimal("2.00")}),
    ]
    assert str(out[0]) == "gold_daily_orders[2026-01-01.units]: expected 5, got 6"


def test_compare_maps_and_mismatch_dict() -> None:
    out: list[Mismatch] = []
    _compare_maps(
        "silver_customers", {"CUST-1": 2, "CUST-2": 1}, {"CUST-1": 3, "CUST-2": 1, "CUST-3": 1}, out
    )
    assert [(m.key, m.expected, m.actual) for m in out] == [("CUST-1", 2, 3), ("CUST-3", None, 1)]
    assert Mismatch("t", "k", Decimal("1.00"), None).as_dict() == {
        "table": "t",
        "key": "k",
        "expected": "1.00",
        "actual": None,
    }


def test_snapshot_differences() -> None:
    before = {"gold_kpis": [(1, "a"), (2, "b")], "gold_daily_orders": [(1,)]}
    after = {"gold_kpis": [(1, "a"), (2, "c")], "gold_daily_orders": [(1,)]}
    diffs = snapshot_differences(before, after)
    assert [(m.table, m.key, m.expected, m.actual) for m in diffs] == [
        ("gold_kpis", "(2, 'b')", "present", "missing"),
        ("gold_kpis", "(2, 'c')", "missing", "present"),
    ]
    assert snapshot_differences(before, before) == []


def test_latest_manifest(tmp_path: Path) -> None:
    for batch in (1, 2, 10):
        (tmp_path / f"manifest_b{batch:05d}.json").write_text(
            json.dumps({"batch_id": batch}), encoding="utf-8"
        )
    assert latest_manifest(tmp_path)["batch_id"] == 10
    with pytest.raises(FileNotFoundError):
        latest_manifest(tmp_path / "none")
