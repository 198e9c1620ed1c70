"""A small real run of the reference pipeline (tests/monitoring/reference_run.py): alerts evaluated after
each export, every dashboard panel over the exported metrics, and both notebooks run top to bottom.

`slow`: the shared run costs two pipeline updates, two exports, the GX suites and one notebook kernel
with its own JVM (minutes on two cores).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from reference_run import BUNDLE_TARGET, REPO_ROOT

from pipeline.monitoring.render import DASHBOARD_DIR, load_panels, run_panel

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.slow]

ALL_PANELS = [p for path in sorted(DASHBOARD_DIR.glob("*.json")) for p in load_panels(path)]
NOTEBOOKS = DASHBOARD_DIR.parent / "notebooks"
KNOWN_RULES = {
    "quality_rate", "update_failed", "flow_failed", "sla_breach", "performance_degradation",
    "revenue_anomaly", "order_count_anomaly",
}  # fmt: skip


def _query(run: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = run.pg.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.replace("{s}", run.schema), params)
            return cur.fetchall()
    finally:
        conn.close()


def test_alerts_follow_each_export_and_are_sent_once(reference_run: Any) -> None:
    from harness.metrics_export import evaluate_alerts_local

    run = reference_run
    assert len(run.updates) == 2 and None not in run.alert_results and len(run.alert_results) == 4
    rows = _query(
        run, "SELECT rule, subject, alert_window, notified_at IS NOT NULL FROM {s}.alerts ORDER BY alert_id"
    )
    assert rows and {r[0] for r in rows} <= KNOWN_RULES and all(r[3] for r in rows)
    # the quality alerts are exactly the (update, dataset:rule) whose summed rate is below dev's minimum
    minimum = run.config.monitoring.rules.min_pass_rate
    below = {
        (f"{dataset}:{rule}", update)
        for update, dataset, rule, passed, failed in _query(
            run,
            "SELECT update_id, dataset_name, expectation_name, sum(passed_records), sum(failed_records) "
            "FROM {s}.quality_metrics GROUP BY 1, 2, 3",
        )
        if rule in minimum and passed + failed > 0 and passed / (passed + failed) < minimum[rule]
    }
    assert {(r[1], r[2]) for r in rows if r[0] == "quality_rate"} == below
    # two days of KPIs with min_anomaly_history_days = 1: the second day is judged against the first
    days = _query(
        run, "SELECT kpi_date, revenue, orders FROM {s}.gold_kpi_daily WHERE dimension = 'all' ORDER BY 1"
    )
    assert len(days) >= 2
    newest = days[-1][0].isoformat()
    anomalies = {r[0] for r in rows if r[2] == newest}
    assert ("revenue_anomaly" in anomalies) == (days[-1][1] != days[-2][1])
    # each alert went out once to Slack and once by mail; evaluating again sends nothing
    new = [a for result in run.alert_results for a in result.new]
    assert len(new) == len(rows) == len(run.slack.requests) == len(run.smtp.mails)
    again = evaluate_alerts_local(run.pipeline, run.config, run.pg.connect, update_ids=run.updates)
    assert again is not None and again.new == () and again.notified == ()
    assert len(run.slack.requests) == len(rows)
    texts = sorted(r["json"]["text"] for r in run.slack.requests)
    assert all(t.startswith(f"[{run.pipeline_id}] ") for t in texts)


def test_every_panel_returns_rows_of_its_declared_shape_after_a_real_run(reference_run: Any) -> None:
    run = reference_run
    conn = run.pg.connect()
    try:
        results = {}
        for panel in ALL_PANELS:
            names, rows = run_panel(conn, panel, run.schema)
            assert names == panel.columns, panel.title
            assert rows, f"{panel.dashboard}: {panel.title} returned no rows"
            assert all(len(r) == len(names) for r in rows), panel.title
            if panel.format == "time_series":
                assert all(isinstance(r[0], dt.datetime) for r in rows), panel.title
            results[panel.title] = rows
    finally:
        conn.close()
    assert len(results) == 15
    assert results["Updates by state"] == [("COMPLETED", 2)]
    flows = _query(run, "SELECT count(*) FROM {s}.flow_metrics WHERE update_id = %s", (run.updates[-1],))
    assert len(results["Flows of the latest update"]) == flows[0][0] > 10
    orders = run.pipeline.table("silver_orders").count()
    assert results["Totals"][0][0] == orders
    assert sum(r[1] for r in results["Orders by status"]) == orders
    gx = {suite: passed + failed for suite, passed, failed in results["Great Expectations: latest run"]}
    assert sum(gx.values()) == run.gx_rows and "silver_orders" in gx


def _run_notebooks(run: Any, tmp_path: Path, names: list[str]) -> dict[str, Any]:
    """Execute notebooks in one kernel whose start-up file builds ``spark`` the harness way."""
    import nbformat
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-harness-spark.py").write_text(
        "from harness.notebook import notebook_session\n"
        f"spark, _ = notebook_session(state={str(run.state)!r}, bundle={str(REPO_ROOT)!r}, target={BUNDLE_TARGET!r})\n"
    )
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython"), "HARNESS_DRIVER_MEMORY": "1g"}
    env.pop("MPLBACKEND", None)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(tmp_path))
    executed = {}
    try:
        for index, name in enumerate(names):
            if index:  # the next notebook starts from a clean namespace, with the same session
                reset = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
                    "%reset -f\nfrom pyspark.sql import SparkSession\nspark = SparkSession.getActiveSession()"
                )])  # fmt: skip
                NotebookClient(reset, km=km, timeout=120, startup_timeout=900).execute()
            nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
            NotebookClient(nb, km=km, timeout=900, startup_timeout=900).execute()
            executed[name] = nb
    finally:
        km.shutdown_kernel(now=True)
    return executed


def _printed(nb: Any, marker: str) -> Any:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(marker + " "):
                    return json.loads(line[len(marker) + 1 :])
    raise AssertionError(f"{marker} not printed")


def test_notebooks_run_top_to_bottom_on_the_harness_tables(reference_run: Any, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    table = reference_run.pipeline.table
    done = _run_notebooks(reference_run, tmp_path, ["data_exploration", "pipeline_testing"])
    explore, testing = done["data_exploration"], done["pipeline_testing"]
    for nb in (explore, testing):
        assert not [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]

    counts = _printed(explore, "ROW_COUNTS")
    assert len(counts) == 17 and counts == {name: table(name).count() for name in counts}
    orders = table("silver_orders").agg(F.count("*"), F.sum("revenue")).first()
    totals = _printed(explore, "ORDER_TOTALS")
    assert totals["orders"] == orders[0] and totals["revenue"] == pytest.approx(float(orders[1]), abs=0.01)
    by_rule = (
        table("silver_orders_quarantine").select(F.explode("failed_rules").alias("r")).groupBy("r").count()
    )
    assert _printed(explore, "QUARANTINE_BY_RULE") == {r["r"]: r["count"] for r in by_rule.collect()} != {}
    history = _printed(explore, "SCD2_HISTORY")
    versions = table("silver_customers").groupBy("customer_id").count().agg(F.max("count")).first()[0]
    assert history["versions"] == versions and history["current"] <= 1
    images = [o for c in explore.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1

    summary = _printed(testing, "RECONCILIATION")
    assert summary["failed"] == [] and summary["checks"] == 14
    assert summary["bronze_orders"] == table("bronze_orders").count()
    assert summary["bronze_orders"] == summary["silver_order_events"] + summary["quarantine"]
    current = table("silver_customers").where("__END_AT IS NULL").count()
    assert summary["current_customers"] == current
