"""Evaluate the alert rules after a metrics export: read, judge, record once, notify once.

What runs after every export, locally (`harness.metrics_export.export_local`) and on Databricks
(a job task after the export task)::

    from pipeline.metrics.config import load_metrics_config
    from pipeline.metrics.job import connector
    from pipeline.monitoring.alert_job import alerts_after_export

    config = load_metrics_config("/Workspace/.../prod_config.json")   # config.monitoring: rules + channels
    alerts_after_export(connector(config, secrets_get=dbutils.secrets.get), pipeline_id,
                        config.monitoring, schema=config.export.schema)

Re-running it for the same update is harmless: alerts are upserted on their natural key and a
notification goes out once per alert (`pipeline.monitoring.alert_store`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipeline.config.model import AlertSettings, MonitoringSettings
from pipeline.monitoring.alert_inputs import AlertInputs, load_alert_inputs
from pipeline.monitoring.alert_store import DEFAULT_SCHEMA, ProcessResult, ensure_alerts_table, process_alerts
from pipeline.monitoring.alerts import (
    Alert,
    business_anomaly_alerts,
    failure_alerts,
    performance_alerts,
    quality_alerts,
    sla_alerts,
)
from pipeline.monitoring.notifications import Notifier
from pipeline.utils.errors import PipelineError

__all__ = ["MonitoringSettings", "alerts_after_export", "evaluate_alerts", "judge", "run_alerts"]

log = logging.getLogger(__name__)


def judge(pipeline_id: str, inputs: AlertInputs, settings: AlertSettings) -> list[Alert]:
    """Every rule over the inputs, in a fixed order (failures first: they matter most)."""
    flows = [*inputs.flow_history, *inputs.current_flows]
    return [
        *failure_alerts(pipeline_id, inputs.runs),
        *quality_alerts(pipeline_id, inputs.quality, settings),
        *sla_alerts(pipeline_id, inputs.sla),
        *performance_alerts(pipeline_id, inputs.current_flows, flows, settings),
        *business_anomaly_alerts(pipeline_id, inputs.days, settings),
    ]


def evaluate_alerts(
    conn: Any,
    pipeline_id: str,
    settings: AlertSettings,
    *,
    update_ids: Sequence[str] | None = None,
    schema: str = DEFAULT_SCHEMA,
) -> list[Alert]:
    """The alerts for ``update_ids`` (default: the newest exported update), read from PostgreSQL."""
    return judge(
        pipeline_id,
        load_alert_inputs(conn, pipeline_id, settings, update_ids=update_ids, schema=schema),
        settings,
    )


def run_alerts(
    conn: Any,
    pipeline_id: str,
    settings: MonitoringSettings,
    *,
    now: dt.datetime,
    update_ids: Sequence[str] | None = None,
    schema: str = DEFAULT_SCHEMA,
    environ: Mapping[str, str] | None = None,
) -> ProcessResult:
    """Evaluate, record (deduplicated) and notify the new and still-pending alerts.

    ``environ`` holds the secrets' variables (Slack webhook URL, SMTP password); default ``os.environ``.
    """
    ensure_alerts_table(conn, schema)
    alerts = evaluate_alerts(conn, pipeline_id, settings.rules, update_ids=update_ids, schema=schema)
    notifier = Notifier(settings.notifications, environ)
    return process_alerts(conn, pipeline_id, alerts, notifier, now, schema)


def alerts_after_export(
    connect: Callable[[], Any],
    pipeline_id: str,
    settings: MonitoringSettings | None,
    *,
    schema: str = DEFAULT_SCHEMA,
    now: dt.datetime | None = None,
    update_ids: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProcessResult | None:
    """`run_alerts` on a fresh connection; None when alerting is off or failed.

    A failure here (database gone, bad rows) is logged and never raised: the export before it has
    committed, and alerts not yet notified are retried by the next evaluation.
    """
    if settings is None:
        return None
    moment = now or dt.datetime.now(dt.UTC)
    try:
        conn = connect()
    except Exception as exc:  # the driver's connection error; the export already reported its own
        log.warning("alerts not evaluated for pipeline %s: cannot connect: %s", pipeline_id, exc)
        return None
    try:
        result = run_alerts(
            conn, pipeline_id, settings, now=moment, update_ids=update_ids, schema=schema, environ=environ
        )
    except PipelineError as exc:
        log.warning("alerts not evaluated for pipeline %s: %s", pipeline_id, exc.message)
        return None
    except Exception as exc:
        if not type(exc).__module__.startswith("psycopg2"):
            raise
        log.warning("alerts not evaluated for pipeline %s: %s: %s", pipeline_id, type(exc).__name__, exc)
        return None
    finally:
        conn.close()
    failed = [d for _, deliveries in result.notified for d in deliveries if d.status == "failed"]
    log.info(
        "alerts for pipeline %s: %d new, %d repeated, %d notified, %d failed deliveries",
        pipeline_id,
        len(result.new),
        len(result.repeated),
        len(result.notified),
        len(failed),
    )
    return result
