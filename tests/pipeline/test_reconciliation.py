"""Issue 6 point 7: simulator -> pipeline, batch after batch, reconciled exactly against the manifest.

Three seeded weekly batches (hostile defect rates, schema drift from batch 2, late customer changes) are
dropped into the dev landing volume; after each one `harness watch`'s loop runs one triggered update
of the unchanged pipeline (`LocalPipeline`), and `harness.reconcile.reconcile` compares every
checked table with the manifest: bronze rows = lines produced, silver + quarantine = bronze,
quarantine per rule = injected defects, revenue per day and hour, units per product, cohort sizes,
SCD2 versions per customer. A full refresh at the end must reproduce the gold tables exactly.

One pipeline and one state directory serve all batches (each update costs seconds of fixed time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pipeline_paths import BUNDLE_TARGET, REPO_ROOT

from harness.pipeline import LocalPipeline
from harness.reconcile import gold_snapshot, reconcile, snapshot_differences
from harness.watch import WatchLoop
from simulator import Simulator, SimulatorConfig

pytestmark = pytest.mark.spark

LANDING = "/Volumes/retail_dev/ecommerce/raw/orders"


def test_three_batches_reconcile_and_full_refresh_reproduces_gold(spark: Any, tmp_path: Path) -> None:
    pipeline = LocalPipeline.from_bundle(REPO_ROOT, BUNDLE_TARGET, state=tmp_path / "state", spark=spark)
    landing = pipeline.volume_path(LANDING)
    # weekly batches give the customer feed time to change and delete (seed 10: 14 customers with
    # 2-3 SCD2 versions, one delete); hostile rates: ~4.5 % defective lines, 20 % late changes
    config = SimulatorConfig(
        seed=10, orders_per_batch=100, customers=600, interval="7d", profile="hostile", schema_drift_at=2
    )
    sim = Simulator(config, landing)
    watch = WatchLoop(
        landing, pipeline.run, tmp_path / "state" / "watch.json", once=True, on_event=lambda m: None
    )

    manifest: dict[str, Any] = {}
    for batch in (1, 2, 3):
        manifest = sim.next_batch().manifest
        summary = watch.run()
        assert [u["batches"] for u in summary.updates] == [[batch]]
        assert summary.updates[0]["status"] == "COMPLETED", summary.updates[0]["error"]
        mismatches = reconcile(pipeline.table, manifest)
        assert [str(m) for m in mismatches] == [], f"batch {batch}"

    expected = manifest["cumulative"]["expected"]
    # the run exercised what it claims to: defects quarantined, drifted lines recovered, SCD2 history
    assert sum(expected["quarantine_by_rule"].values()) > 10
    assert max(expected["scd2_versions"].values()) > 1
    assert len(expected["scd2_versions"]) > expected["current_customers"]  # a DELETE closed a customer
    drifted = pipeline.table("silver_order_events").where("_batch_id >= 2")
    assert drifted.where("shipping_cost IS NULL OR gift_wrap IS NULL").count() == 0
    assert drifted.count() > 0
    assert "gift_wrap" in pipeline.table("bronze_orders").columns

    before = gold_snapshot(pipeline.table)
    result = pipeline.run(full_refresh=True)
    assert result.status == "COMPLETED", result.error
    assert [str(m) for m in snapshot_differences(before, gold_snapshot(pipeline.table))] == []
    assert [str(m) for m in reconcile(pipeline.table, manifest)] == []
