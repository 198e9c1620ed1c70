"""Issue 8, point 1: `harness e2e` (what `nox -s e2e` runs) as a user runs it, on small sizes.

One subprocess run (its own JVM and local PostgreSQL, like the real command) shared by the module's
tests; the mismatch test then re-reads that run's Delta tables with a manifest altered by one value.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from report_browser import chromium, problems, render_check

from harness.e2e.runner import E2EMismatchError
from harness.pipeline import LocalPipeline
from harness.reconcile import latest_manifest, reconcile

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
#: two weekly batches, the second with the schema drift: every stage runs, in a few minutes
SMALL_RUN = ("--batches", "2", "--orders-per-batch", "120", "--schema-drift-at", "2")


@pytest.fixture(scope="module")
def e2e_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    state = tmp_path_factory.mktemp("e2e") / "state"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "e2e", "--state", str(state), *SMALL_RUN],
        capture_output=True,
        text=True,
        timeout=1800,
        env=dict(os.environ, HARNESS_PG_PROVIDER=os.environ.get("HARNESS_PG_PROVIDER", "local")),
    )
    summary_path = state / "report" / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return {"done": done, "state": state, "summary": summary}


def test_e2e_passes_and_prints_progress_and_the_report_path(e2e_run: dict[str, Any]) -> None:
    done = e2e_run["done"]
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    report = e2e_run["state"] / "report" / "report.html"
    assert f"report: {report}" in done.stdout
    for step in ("batch 1/2: simulate", "batch 2/2: pipeline update", "quality suites", "reconcile"):
        assert f"{step}: OK" in done.stderr
    html = report.read_text()
    assert html.count("<img") >= 4  # update time, rows per flow, order KPIs, dashboard panels
    assert all((report.parent / p).is_file() for p in ("update_time.png", "rows_per_flow.png"))
    assert "RUNNING" not in html  # the steps table lists finished steps only


@pytest.mark.skipif(chromium() is None, reason="chromium not installed (.ci/run installs it)")
def test_the_real_report_renders_in_chromium_with_every_chart_and_nothing_cut_off(
    e2e_run: dict[str, Any],
) -> None:
    found = render_check(e2e_run["state"] / "report" / "report.html")
    assert len(found["images"]) >= 4
    assert problems(found) == []


def _scenario_anomalies(state: Path) -> list[tuple[str, str]]:
    """The business anomalies the simulated days call for: the rule (robust z of the newest day
    against the days before it, docs/monitoring.md) applied to the simulator's own daily oracle.
    Each one must fall on a day the simulated clock made a flash sale, or it is no scenario's doing."""
    import datetime as dt

    from pipeline.monitoring.scoring import robust_zscore
    from simulator.clock import DAY, Clock

    manifest = latest_manifest(
        state / "volumes" / "retail_dev" / "ecommerce" / "raw" / "orders" / "manifests"
    )
    alerts = json.loads((REPO / "pipeline" / "configurations" / "dev_config.json").read_text())["alerts"]
    days = manifest["cumulative"]["expected"]["daily"]
    history = days[-1 - alerts["anomaly_window_days"] : -1]
    found = []
    for rule, metric in (("order_count_anomaly", "orders"), ("revenue_anomaly", "revenue")):
        values = [float(d[metric]) for d in history]
        z = robust_zscore(float(days[-1][metric]), values, alerts["min_anomaly_history_days"])
        if z is not None and abs(z) > alerts["revenue_zscore_threshold"]:
            found.append((rule, metric))
    if found:
        last = dt.date.fromisoformat(days[-1]["date"])
        epoch_day = (last - dt.date(1970, 1, 1)).days
        assert Clock(manifest["seed"], 0, DAY).promo_factor(epoch_day) > 1.0, (
            f"{last}: an anomaly on no sale day"
        )
    return found


def test_a_clean_run_raises_only_the_alerts_its_scenario_injects(e2e_run: dict[str, Any]) -> None:
    """The drift batch's first update fails on the new column in its bronze orders flow (Databricks'
    addNewColumns); a flash sale on the newest simulated day (seed 42: 2026-01-14) is a true revenue
    and order-count anomaly; nothing else is wrong: freshness is judged on the simulated clock, so no
    table breaches its SLA (docs/monitoring.md, "The demo's clock")."""
    export = e2e_run["summary"]["export"]
    raised = sorted((a["rule"], a["subject"]) for a in export["alerts"])
    expected = [("flow_failed", "bronze_orders"), ("update_failed", export["pipeline_id"])]
    assert raised == sorted(expected + _scenario_anomalies(e2e_run["state"]))
    assert not any(rule == "sla_breach" for rule, _ in raised)


def test_unhonoured_settings_are_said_once_per_process(e2e_run: dict[str, Any]) -> None:
    stderr = e2e_run["done"].stderr
    for setting in ("clusters", "photon", "channel", "notifications"):
        assert stderr.count(f"setting {setting!r} is not honoured locally") == 1, setting


def test_e2e_reconciles_every_layer_and_postgres(e2e_run: dict[str, Any]) -> None:
    summary = e2e_run["summary"]
    assert summary["status"] == "PASSED"
    assert summary["mismatches"] == []
    checks = summary["checks"]
    assert checks["tables = simulator manifest"] > 50
    assert checks["postgres = event log"] > 20
    assert checks["quality suites"] > 20
    export = summary["export"]
    assert export["first_ok"] and export["first_inserted"] > 0
    assert export["second_inserted"] == 0 and export["second_updated"] == 0
    # the drift batch's new column fails its first update (Databricks' addNewColumns), the retry completes
    assert [u["status"] for u in summary["updates"]][-1] == "COMPLETED"
    assert 0 < summary["peak_memory_mb"] < 3072


def test_a_mismatch_names_table_key_and_both_values(spark: Any, e2e_run: dict[str, Any]) -> None:
    state = e2e_run["state"]
    pipeline = LocalPipeline.from_bundle(REPO, "dev", state=state, spark=spark)
    manifest = latest_manifest(pipeline.volume_path("/Volumes/retail_dev/ecommerce/raw/orders/manifests"))
    assert reconcile(pipeline.table, manifest) == []
    altered = copy.deepcopy(manifest)
    first_day = altered["cumulative"]["expected"]["daily"][0]
    first_day["orders"] += 1
    mismatches = [m.as_dict() for m in reconcile(pipeline.table, altered)]
    day, produced = first_day["date"], first_day["orders"] - 1
    assert [{k: m[k] for k in ("table", "key", "expected", "actual")} for m in mismatches] == [
        {"table": "gold_daily_orders", "key": f"{day}.orders", "expected": produced + 1, "actual": produced}
    ]
    message = str(E2EMismatchError(mismatches, "report.html"))
    assert "gold_daily_orders" in message and day in message and str(produced + 1) in message
    # the event log keeps each unhonoured-setting warning once per update (the terminal said it once)
    warnings = (
        pipeline.event_log()
        .where("level = 'WARN' AND message LIKE 'setting %not honoured locally%'")
        .groupBy("origin.update_id")
        .count()
        .collect()
    )
    updates = pipeline.event_log().where("event_type = 'create_update'").count()
    assert len(warnings) == updates == 3  # batch 1, the drift batch's failed update and its retry
    assert {row["count"] for row in warnings} == {4}  # clusters, photon, channel, notifications
