"""Read what the alert rules judge from the PostgreSQL metrics tables (migrations 0001 and 0003).

The rules in `pipeline.monitoring.alerts` take plain records; this module is the one place that
knows which table and column each record comes from:

=====================  ==========================================================================
record                 source
=====================  ==========================================================================
`QualityObservation`   ``quality_metrics`` of the evaluated updates, summed over flows per
                       (update, dataset, expectation)
`RunStatus`            ``pipeline_updates.state`` / ``error_message`` and ``flow_metrics.status``
`FreshnessObservation` ``sla_status`` rows with ``compliant = false`` (freshness and update duration)
`FlowRun` (current)    ``flow_metrics`` of the evaluated updates that COMPLETED with a duration
`FlowRun` (history)    the same flows' newest earlier COMPLETED runs (``baseline_runs`` per flow)
`DailyBusiness`        ``gold_kpi_daily`` (dimension ``all``), the newest ``anomaly_window_days + 1`` days
=====================  ==========================================================================

Only terminal updates are in these tables (the metrics export writes a row once an update has
finished), so evaluating an update twice reads the same rows and yields the same alerts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.monitoring.alerts import (
    AlertSettings,
    DailyBusiness,
    FlowRun,
    FreshnessObservation,
    QualityObservation,
    RunStatus,
)
from pipeline.utils.errors import AlertStoreError

__all__ = ["AlertInputs", "latest_update_ids", "load_alert_inputs"]


@dataclass(frozen=True)
class AlertInputs:
    """Everything one evaluation needs, for the updates in ``update_ids``."""

    update_ids: tuple[str, ...]
    quality: tuple[QualityObservation, ...] = ()
    runs: tuple[RunStatus, ...] = ()
    sla: tuple[FreshnessObservation, ...] = ()
    current_flows: tuple[FlowRun, ...] = ()
    flow_history: tuple[FlowRun, ...] = ()
    days: tuple[DailyBusiness, ...] = ()


def _quote(identifier: str) -> str:
    if not identifier or "\0" in identifier:
        raise AlertStoreError("metrics", f"invalid schema name {identifier!r}")
    return '"' + identifier.replace('"', '""') + '"'


def _query(conn: Any, table: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one read; driver errors become `AlertStoreError` naming the table."""
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall())
    except Exception as exc:
        if type(exc).__module__.startswith("psycopg2"):
            raise AlertStoreError(table, f"{type(exc).__name__}: {exc}".strip()) from exc
        raise


def latest_update_ids(conn: Any, pipeline_id: str, schema: str, limit: int = 1) -> list[str]:
    """The newest ``limit`` exported updates of the pipeline (by event-log sequence), newest first."""
    table = f"{_quote(schema)}.pipeline_updates"
    rows = _query(
        conn,
        table,
        f"SELECT update_id FROM {table} WHERE pipeline_id = %s ORDER BY update_seq DESC LIMIT %s",
        (pipeline_id, limit),
    )
    return [r[0] for r in rows]


def _seconds(value: Any) -> float:
    return float(value) * 60.0


def load_alert_inputs(
    conn: Any,
    pipeline_id: str,
    settings: AlertSettings,
    *,
    update_ids: Sequence[str] | None = None,
    schema: str = "pipeline_monitoring",
) -> AlertInputs:
    """Read the records for ``update_ids`` (default: the newest exported update) of one pipeline.

    An empty database (nothing exported yet) gives empty inputs, not an error.
    """
    s = _quote(schema)
    ids = list(update_ids) if update_ids else latest_update_ids(conn, pipeline_id, schema)
    if not ids:
        return AlertInputs(update_ids=())
    quality = [
        QualityObservation(update_id, dataset, rule, int(passed), int(failed))
        for update_id, dataset, rule, passed, failed in _query(
            conn,
            f"{s}.quality_metrics",
            f"""SELECT update_id, dataset_name, expectation_name, sum(passed_records), sum(failed_records)
                  FROM {s}.quality_metrics WHERE pipeline_id = %s AND update_id = ANY(%s)
                 GROUP BY update_id, dataset_name, expectation_name
                 ORDER BY update_id, dataset_name, expectation_name""",
            (pipeline_id, ids),
        )
    ]
    runs = [
        RunStatus(update_id, state, None, error)
        for update_id, state, error in _query(
            conn,
            f"{s}.pipeline_updates",
            f"""SELECT update_id, state, concat_ws(': ', error_class, error_message)
                  FROM {s}.pipeline_updates WHERE pipeline_id = %s AND update_id = ANY(%s)
                 ORDER BY update_seq""",
            (pipeline_id, ids),
        )
    ]
    runs += [
        RunStatus(update_id, status, flow, error)
        for update_id, flow, status, error in _query(
            conn,
            f"{s}.flow_metrics",
            f"""SELECT update_id, flow_name, status, concat_ws(': ', error_class, error_message)
                  FROM {s}.flow_metrics WHERE pipeline_id = %s AND update_id = ANY(%s) AND status = 'FAILED'
                 ORDER BY update_seq, flow_name""",
            (pipeline_id, ids),
        )
    ]
    sla = [
        FreshnessObservation(subject, update_id, _seconds(observed), _seconds(target), check)
        for update_id, check, subject, observed, target in _query(
            conn,
            f"{s}.sla_status",
            f"""SELECT update_id, check_type, subject, observed_minutes, target_minutes
                  FROM {s}.sla_status
                 WHERE pipeline_id = %s AND update_id = ANY(%s) AND compliant = false
                   AND observed_minutes IS NOT NULL AND target_minutes IS NOT NULL
                 ORDER BY update_seq, check_type, subject""",
            (pipeline_id, ids),
        )
    ]
    flow_rows = _query(
        conn,
        f"{s}.flow_metrics",
        f"""WITH runs AS (
              SELECT f.update_id, f.flow_name, f.start_time, f.duration_s, coalesce(f.rows_out, 0) AS rows_out,
                     f.update_id = ANY(%s) AS is_current,
                     row_number() OVER (PARTITION BY f.flow_name ORDER BY f.start_time DESC) AS age
                FROM {s}.flow_metrics f
               WHERE f.pipeline_id = %s AND f.status = 'COMPLETED'
                 AND f.start_time IS NOT NULL AND f.duration_s IS NOT NULL
                 AND f.flow_name IN (SELECT flow_name FROM {s}.flow_metrics
                                      WHERE pipeline_id = %s AND update_id = ANY(%s))
            )
            SELECT update_id, flow_name, start_time, duration_s, rows_out, is_current FROM runs
             WHERE is_current OR age <= %s ORDER BY flow_name, start_time""",
        (ids, pipeline_id, pipeline_id, ids, settings.baseline_runs + len(ids)),
    )
    current, history = [], []
    for update_id, flow, start, duration, rows_out, is_current in flow_rows:
        run = FlowRun(flow, update_id, start, float(duration), int(rows_out))
        (current if is_current else history).append(run)
    day_rows = _query(
        conn,
        f"{s}.gold_kpi_daily",
        f"""SELECT kpi_date, revenue, orders FROM {s}.gold_kpi_daily
             WHERE pipeline_id = %s AND dimension = 'all' ORDER BY kpi_date DESC LIMIT %s""",
        (pipeline_id, settings.anomaly_window_days + 1),
    )
    days = sorted(
        (DailyBusiness(_date(day), float(revenue), int(orders)) for day, revenue, orders in day_rows),
        key=lambda d: d.day,
    )
    return AlertInputs(
        update_ids=tuple(ids),
        quality=tuple(quality),
        runs=tuple(runs),
        sla=tuple(sla),
        current_flows=tuple(current),
        flow_history=tuple(history),
        days=tuple(days),
    )


def _date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
