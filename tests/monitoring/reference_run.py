"""One small real run of the reference pipeline, exported to PostgreSQL with alerting on: shared by
the notebook, dashboard-panel and alert-wiring tests (tests/monitoring/conftest.py, session scope).

Two simulated daily batches (hostile defect rates, 60 orders each) → two triggered updates of the
unchanged pipeline → after each: `export_local` (metrics, then alerts), the daily gold KPIs, and the
alerts evaluated again over them (as the e2e job does) → Great Expectations suites once at the end.
Slack and e-mail go to local receivers started here. Alerting is configured from dev_config.json
with ``min_anomaly_history_days`` lowered to 1, so two days of real data can raise the anomaly alerts
the order dashboard shows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.local_receivers import SmtpServer, WebhookServer, smtp_server, webhook_server

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_ROOT = REPO_ROOT / "pipeline"
BUNDLE_TARGET = "dev"  # the pipeline as databricks.yml deploys it to dev
LANDING = "/Volumes/retail_dev/ecommerce/raw/orders"
SLACK_ENV = "REFERENCE_RUN_SLACK_URL"
SCHEMA = "monitoring_run"


@dataclass
class ReferenceRun:
    pipeline: Any
    state: Path
    schema: str
    config: Any
    pg: Any
    slack: WebhookServer
    smtp: SmtpServer
    updates: list[str] = field(default_factory=list)
    alert_results: list[Any] = field(default_factory=list)
    gx_rows: int = 0

    @property
    def pipeline_id(self) -> str:
        return self.pipeline.settings.pipeline_id

    @property
    def namespace(self) -> str:
        return self.pipeline.runtime.names.database


def run_config(smtp_port: int) -> Any:
    from pipeline.metrics.config import parse_metrics_config

    raw = json.loads((PIPELINE_ROOT / "configurations" / "dev_config.json").read_text())
    raw["export"]["schema"] = SCHEMA
    raw["alerts"]["slack_webhook_env"] = SLACK_ENV
    raw["alerts"]["email"] |= {"smtp_host": "127.0.0.1", "smtp_port": smtp_port}
    raw["alerts"]["min_anomaly_history_days"] = 1
    return parse_metrics_config(raw)


@contextmanager
def reference_run(spark: Any, pg: Any, state: Path) -> Iterator[ReferenceRun]:
    from harness.metrics_export import evaluate_alerts_local, export_local
    from harness.pipeline import LocalPipeline
    from pipeline.monitoring.exports import gold_kpi_rows, write_gold_kpis, write_quality_results
    from quality_suites.runner import run_suites
    from simulator import Simulator, SimulatorConfig

    pipeline = LocalPipeline.from_bundle(REPO_ROOT, BUNDLE_TARGET, state=state, spark=spark)
    simulator = Simulator(
        SimulatorConfig(seed=11, orders_per_batch=60, customers=80, interval="1d", profile="hostile"),
        pipeline.volume_path(LANDING),
    )
    with webhook_server() as slack, smtp_server() as smtp:
        os.environ[SLACK_ENV] = f"http://127.0.0.1:{slack.port}/services/T0/B0/reference"
        try:
            config = run_config(smtp.port)
            run = ReferenceRun(pipeline, state, SCHEMA, config, pg, slack, smtp)
            for _ in range(2):
                simulator.next_batch()
                result = pipeline.run()
                assert result.status == "COMPLETED", result.error
                _, report = export_local(pipeline, config, pg.connect, on_alerts=run.alert_results.append)
                assert report.ok, report.error
                run.updates += report.updates
                conn = pg.connect()
                try:
                    write_gold_kpis(conn, run.pipeline_id, gold_kpi_rows(spark, run.namespace), schema=SCHEMA)
                finally:
                    conn.close()
                run.alert_results.append(evaluate_alerts_local(pipeline, config, pg.connect))
            suites = run_suites(
                spark,
                run.namespace,
                run_id="reference-run",
                now=dt.datetime.now(dt.UTC),
                docs_dir=state / "docs",
            )
            conn = pg.connect()
            try:
                rows = [row for suite in suites for row in suite.rows]
                run.gx_rows = write_quality_results(conn, run.pipeline_id, rows, schema=SCHEMA)
            finally:
                conn.close()
            yield run
        finally:
            os.environ.pop(SLACK_ENV, None)
