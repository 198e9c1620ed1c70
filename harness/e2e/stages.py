"""The e2e job's stages, each a small function over the rooms it drives.

Kept apart from the runner so each stage can be reused (benchmarks, the crash-recovery tests) and
read on its own: where the data goes next is the next function in this file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.e2e.options import E2EOptions
from harness.e2e.steps import StepLog


@contextmanager
def postgres(options: E2EOptions, log: StepLog) -> Iterator[Any]:
    """The monitoring database from the provider chain (env DSN, Docker, or a local server)."""
    from harness.postgres import provide_postgres
    from harness.state import StateLayout

    with log.step("provide PostgreSQL"):
        context = provide_postgres(StateLayout.at(options.state))
        info = context.__enter__()
        log.say(f"PostgreSQL: {info.provider} at {info.host}:{info.port}/{info.database}")
    try:
        yield info
    finally:
        context.__exit__(None, None, None)


def local_pipeline(options: E2EOptions) -> Any:
    """The reference pipeline on one SparkSession, with its own state directory."""
    import os

    from harness.cli.progress import ProgressPrinter
    from harness.pipeline import LocalPipeline
    from harness.spark.session import DRIVER_MEMORY_ENV

    os.environ.setdefault(DRIVER_MEMORY_ENV, options.driver_memory)  # an explicit env setting wins
    return LocalPipeline(
        options.pipeline_root,
        options.settings,
        state=options.state,
        master=options.master,
        listeners=[ProgressPrinter()],
    )


def simulator(options: E2EOptions, pipeline: Any) -> Any:
    """The order simulator dropping into the pipeline's landing volume (its local folder)."""
    from simulator import Simulator, SimulatorConfig

    config = SimulatorConfig(
        seed=options.seed,
        orders_per_batch=options.orders_per_batch,
        customers=options.customers,
        interval=options.interval,
        profile=options.profile,
        schema_drift_at=options.schema_drift_at,
    )
    out_dir = Path(pipeline.volume_path(options.landing_root))
    return Simulator(config, out_dir)


def _namespace(pipeline: Any) -> str:
    """The local database holding the pipeline's published tables (catalog__schema)."""
    return pipeline.runtime.names.database


def quality(options: E2EOptions, pipeline: Any) -> dict[str, Any]:
    """Run every Great Expectations suite on the pipeline's tables; Data Docs into the report."""
    from datetime import UTC, datetime

    from quality_suites.runner import run_suites

    runs = run_suites(
        pipeline.spark,
        _namespace(pipeline),
        run_id=f"e2e-{options.state.name}",
        now=datetime.now(UTC),
        docs_dir=options.report_dir / "data_docs",
    )
    pipeline._e2e_quality_runs = runs  # exported with the other metrics in the next stage
    return {
        "suites": [
            {
                "suite": run.suite,
                "table": run.target,
                "success": run.success,
                "expectations": len(run.rows),
                "failed": sum(1 for r in run.rows if not r.success),
            }
            for run in runs
        ],
        "failed_expectations": [
            {
                "table": run.target,
                "key": f"{run.suite}:{r.expectation}:{r.column_name or ''}",
                "expected": "success",
                "actual": f"failed (observed {r.observed_value})",
            }
            for run in runs
            for r in run.rows
            if not r.success
        ],
        "data_docs": str(options.report_dir / "data_docs"),
    }


@contextmanager
def local_mail_catcher(config: Any) -> Iterator[Any]:
    """Catch the configuration's e-mail alerts when they go to this machine (dev: localhost:1025).

    A developer's laptop usually runs a mail catcher on that port; the e2e brings its own, so alerts
    are delivered (and listed in the report) rather than failing against a server that is not there.
    Yields None when e-mail goes elsewhere or the port is taken (then that server receives them).
    """
    from harness.local_receivers import smtp_server

    email = getattr(getattr(config.monitoring, "notifications", None), "email", None)
    if email is None or email.smtp_host not in ("localhost", "127.0.0.1") or email.username:
        yield None
        return
    try:
        context = smtp_server(port=email.smtp_port)
        catcher = context.__enter__()
    except OSError:  # the port is in use: a real mail catcher is running
        yield None
        return
    try:
        yield catcher
    finally:
        context.__exit__(None, None, None)


def export(options: E2EOptions, pipeline: Any, pg: Any) -> dict[str, Any]:
    """Export the run's metrics (twice: the second must add nothing), GX results and gold KPIs.

    Alerts are evaluated after each export (`export_local`) and once more after the gold KPIs are
    written, so the revenue and order-count anomaly rules see this run's days.
    """
    from harness.metrics_export import evaluate_alerts_local, export_local
    from pipeline.metrics.config import load_metrics_config
    from pipeline.monitoring.exports import gold_kpi_rows, write_gold_kpis, write_quality_results

    config = load_metrics_config(options.environment_config)
    with local_mail_catcher(config) as catcher:
        staged, first = export_local(pipeline, config, pg.connect)
        _, second = export_local(pipeline, config, pg.connect)
        pipeline_id = pipeline.settings.pipeline_id
        schema = config.export.schema
        conn = pg.connect()
        try:
            quality_rows = [row for run in getattr(pipeline, "_e2e_quality_runs", []) for row in run.rows]
            gx_written = write_quality_results(conn, pipeline_id, quality_rows, schema=schema)
            kpis_written = write_gold_kpis(
                conn, pipeline_id, gold_kpi_rows(pipeline.spark, _namespace(pipeline)), schema=schema
            )
        finally:
            conn.close()
        evaluate_alerts_local(pipeline, config, pg.connect)
        alerts = _recorded_alerts(pg, schema, pipeline_id)
        mails = [m.message["Subject"] for m in catcher.mails] if catcher is not None else []
    return {
        "pipeline_id": pipeline_id,
        "schema": schema,
        "staged": staged,
        "first_inserted": sum(first.inserted.values()),
        "first_ok": first.ok,
        "first_error": first.error,
        "watermark": first.watermark_after,
        "second_inserted": sum(second.inserted.values()),
        "second_updated": sum(second.updated.values()),
        "second_ok": second.ok,
        "gx_rows": gx_written,
        "kpi_rows": kpis_written,
        "inserted_by_table": dict(first.inserted),
        "alerts": alerts,
        "mails_caught": mails,
    }


def _recorded_alerts(pg: Any, schema: str, pipeline_id: str) -> list[dict[str, Any]]:
    """The alerts PostgreSQL recorded for this pipeline (rule, subject, value, threshold), for the report."""
    from psycopg2 import sql

    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT * FROM {}.alerts WHERE pipeline = %s ORDER BY alert_id").format(
                    sql.Identifier(schema)
                ),
                (pipeline_id,),
            )
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        conn.close()
    keep = ("rule", "severity", "subject", "value", "threshold", "message", "occurrences", "notified_at")
    return [{k: r.get(k) for k in keep if k in r} for r in rows]


def _postgres_vs_event_log(
    pipeline: Any, pg: Any, export: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    """PostgreSQL holds exactly the event log's updates, flow results and expectation counts."""
    import json

    events = pipeline.event_log()
    terminal = [
        r["update_id"]
        for r in events.where("event_type = 'update_progress'")
        .selectExpr(
            "origin.update_id AS update_id", "get_json_object(details, '$.update_progress.state') AS s"
        )
        .where("s IN ('COMPLETED', 'FAILED', 'CANCELED')")
        .collect()
    ]
    flows = {
        (r["update_id"], r["flow"]): json.loads(r["details"])["flow_progress"]
        for r in events.where("event_type = 'flow_progress'")
        .selectExpr("origin.update_id AS update_id", "origin.flow_name AS flow", "details")
        .where("get_json_object(details, '$.flow_progress.status') = 'COMPLETED'")
        .collect()
    }
    mismatches: list[dict[str, Any]] = []
    schema, pipeline_id = export["schema"], export["pipeline_id"]
    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                f'SELECT update_id FROM "{schema}".pipeline_updates WHERE pipeline_id = %s', (pipeline_id,)
            )
            in_pg = {r[0] for r in cur.fetchall()}
            cur.execute(
                f"SELECT update_id, flow_name, rows_out, rows_upserted, rows_deleted "
                f'FROM "{schema}".flow_metrics WHERE pipeline_id = %s',
                (pipeline_id,),
            )
            flow_rows = {(r[0], r[1]): r[2:] for r in cur.fetchall()}
    finally:
        conn.close()
    if in_pg != set(terminal):
        mismatches.append(
            {
                "table": "pipeline_updates",
                "key": "update ids",
                "expected": sorted(terminal),
                "actual": sorted(in_pg),
            }
        )
    for key, details in sorted(flows.items()):
        metrics = details.get("metrics") or {}
        # AUTO CDC flows report upserted/deleted rows instead of output rows, as on Databricks
        names = ("num_output_rows", "num_upserted_rows", "num_deleted_rows")
        expected = tuple(metrics.get(n) for n in names)
        actual = flow_rows.get(key)
        if any(v is not None for v in expected) and actual != expected:
            mismatches.append(
                {
                    "table": "flow_metrics",
                    "key": f"{key[0][:8]}/{key[1]}",
                    "expected": expected,
                    "actual": actual,
                }
            )
    if export["second_inserted"] != 0:
        mismatches.append(
            {"table": "(export)", "key": "second export", "expected": 0, "actual": export["second_inserted"]}
        )
    if not export["first_ok"]:
        mismatches.append(
            {"table": "(export)", "key": "first export", "expected": "ok", "actual": export["first_error"]}
        )
    return mismatches, len(terminal) + len(flows) + 2


def _oracle_checks(manifest: dict[str, Any]) -> int:
    """How many values the table reconciliation compares (counts, rules, days, hours, SKUs, ...)."""
    expected = manifest["cumulative"]["expected"]
    keyed = ("quarantine_by_rule", "daily", "hourly", "by_status", "by_channel", "products", "cohorts")
    return 7 + sum(len(expected[k]) for k in keyed) + len(expected["scd2_versions"]) + 1


def reconcile(
    options: E2EOptions,
    pipeline: Any,
    pg: Any,
    manifest: dict[str, Any],
    export: dict[str, Any],
    quality: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every table against the simulator's manifest, PostgreSQL against the event log, GX results."""
    from harness.reconcile import reconcile as reconcile_tables

    mismatches = [m.as_dict() for m in reconcile_tables(pipeline.table, manifest)]
    checks = {"tables = simulator manifest": _oracle_checks(manifest)}
    pg_mismatches, pg_checks = _postgres_vs_event_log(pipeline, pg, export)
    mismatches += pg_mismatches
    checks["postgres = event log"] = pg_checks
    mismatches += quality.get("failed_expectations", [])
    checks["quality suites"] = sum(s["expectations"] for s in quality.get("suites", []))
    return mismatches, checks


def kpi_frames(pipeline: Any) -> list[tuple[str, Any, str, list[str]]]:
    """Order KPIs for the report's charts: daily revenue / orders / AOV from the gold daily table."""
    import pandas as pd

    from pipeline.monitoring.exports import gold_kpi_rows

    rows = [r for r in gold_kpi_rows(pipeline.spark, _namespace(pipeline)) if r["dimension"] == "all"]
    if not rows:
        return []
    frame = pd.DataFrame(rows).sort_values("kpi_date")
    return [("Daily order KPIs", frame, "kpi_date", ["orders", "revenue", "aov", "distinct_customers"])]


def dashboard_charts(outcome: Any, folder: Path, connect: Callable[[], Any] | None) -> list[tuple[str, Path]]:
    """The Grafana panels rendered as PNGs over the run's PostgreSQL metrics (same SQL as Grafana);
    none without ``connect`` (the run's PostgreSQL)."""
    if connect is None:
        return []
    from pipeline.monitoring.render import render_dashboards

    schema = (getattr(outcome, "export", None) or {}).get("schema", "pipeline_monitoring")
    conn = connect()
    try:
        return render_dashboards(conn, folder / "dashboards", schema=schema)
    finally:
        conn.close()
