"""Issue 17.2: the e2e report as a reader sees it, rendered by headless Chromium (no JVM, no PostgreSQL).

The report is written from a made-up outcome shaped like a real run (the reference pipeline's flow
names, a failed drift update with a long error, a long alert message); the same check runs on the
real report in tests/e2e/test_e2e_job.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from report_browser import chromium, problems, render_check

from harness.e2e.options import E2EOptions
from harness.e2e.report import update_durations_figure, write_report
from harness.e2e.runner import E2EOutcome, finished_steps
from harness.e2e.steps import StepLog

pytestmark = pytest.mark.unit
needs_chromium = pytest.mark.skipif(chromium() is None, reason="chromium not installed (.ci/run installs it)")

FLOWS = (
    "bronze_orders", "bronze_customers", "silver_orders", "silver_order_lines", "orders_quarantine",
    "customers_scd2", "gold_daily_orders", "gold_hourly_orders", "gold_kpis", "gold_products",
    "gold_cohorts", "gold_status", "gold_channel", "gold_customer_ltv",
)  # fmt: skip


def _outcome() -> E2EOutcome:
    updates = []
    for batch, status, seconds in ((1, "COMPLETED", 41.2), (2, "FAILED", 12.0), (2, "COMPLETED", 38.9)):
        flows = {
            name: {"status": "COMPLETED", "rows": 100 * (i + 1), "dropped": 0, "seconds": 1.5 + 0.3 * i}
            for i, name in enumerate(FLOWS)
        }
        error = None if status == "COMPLETED" else "NewColumnsDetectedError: new column coupon_code " * 4
        updates.append(
            {"batch": batch, "update_id": f"{batch}{status[0]}" * 6, "status": status, "seconds": seconds}
            | {"error": error, "flows": flows}
        )
    return E2EOutcome(
        options={"batches": 2},
        environment={"python": "3.11", "platform": "Linux-" + "x" * 120},
        batches=[{"batch": 1, "new_orders": 300, "order_lines": 900}],
        updates=updates,
        export={
            "schema": "pipeline_monitoring",
            "alerts": [
                {"rule": "update_failed", "severity": "critical", "subject": "2F2F2F2F", "value": 1.0}
                | {
                    "threshold": 0.0,
                    "message": "update 2F2F2F2F ended FAILED: " + "new column coupon_code " * 12,
                }
            ],
        },
        steps=[{"name": "batch 1/2: simulate", "seconds": 1.2, "status": "OK"}],
        status="PASSED",
    )


@needs_chromium
def test_every_chart_loads_and_nothing_overflows_in_chromium(tmp_path: Path) -> None:
    report = write_report(E2EOptions(state=tmp_path), _outcome(), pipeline=None)
    found = render_check(report)
    assert [Path(i["src"]).name for i in found["images"]] == ["update_time.png", "rows_per_flow.png"]
    assert problems(found) == []


def test_the_update_time_legend_sits_outside_the_bars_and_the_title_is_whole() -> None:
    fig = update_durations_figure(_outcome().updates)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    assert not legend.overlaps(ax.get_window_extent(renderer))
    assert ax.get_title(loc="left") == "Update time by flow"
    # what savefig(bbox_inches="tight") keeps, in pixels: the whole title is inside it
    kept = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
    title = next(t for t in (ax.title, ax._left_title) if t.get_text()).get_window_extent(renderer)
    assert kept.x0 <= title.x0 and title.x1 <= kept.x1 and title.y1 <= kept.y1


def test_the_steps_table_leaves_out_the_step_still_running() -> None:
    log = StepLog(stream=io.StringIO())
    with log.step("reconcile"):
        pass
    with log.step("report"):
        steps = finished_steps(log)
    assert [(s["name"], s["status"]) for s in steps] == [("reconcile", "OK")]


def test_the_report_module_does_not_import_the_runner() -> None:
    """Issue 17.3: runner -> report only; the report gets the outcome passed in (no import cycle)."""
    import ast

    import harness.e2e.report as report_module

    tree = ast.parse(Path(report_module.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "harness.e2e.runner" not in imported
    assert not any(name.startswith("harness.e2e.runner") for name in imported)
