"""The Grafana dashboards, defined once in Python and written as JSON (``python -m pipeline.monitoring.dashboard_specs``).

Each panel's SQL is plain PostgreSQL over the monitoring schema (no Grafana macros, no time filter),
so a test can run it and the static report can render the same panels. The schema is the one
Grafana variable, ``${monitoring_schema}``: a hidden *constant* whose value is set when the files
are written, from the metrics config's ``export.schema``
(``python -m pipeline.monitoring.dashboard_specs --config pipeline/configurations/prod_config.json --out DIR``);
the stored files carry the default ``pipeline_monitoring``. Every target declares the columns it
returns in ``columns`` (Grafana keeps unknown target keys); the test checks them.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from pipeline.config.model import DEFAULT_SCHEMA

__all__ = [
    "DASHBOARDS",
    "DATASOURCE",
    "DEFAULT_SCHEMA",
    "SCHEMA_VARIABLE",
    "dashboard_json",
    "substitute_schema",
    "write_dashboards",
]

DATASOURCE = {"type": "grafana-postgresql-datasource", "uid": "pipeline-monitoring-pg"}
SCHEMA_VARIABLE = "monitoring_schema"
#: what the panels' SQL says instead of a schema name; Grafana replaces it with the variable's value
S = "${" + SCHEMA_VARIABLE + "}"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def substitute_schema(sql: str, schema: str) -> str:
    """``sql`` with ``${monitoring_schema}`` replaced as Grafana does (raw text): a plain identifier only."""
    if not _IDENTIFIER.fullmatch(schema):
        raise ValueError(f"monitoring schema {schema!r} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)")
    return sql.replace(S, schema)


LATEST_UPDATE = (
    f"(SELECT update_id FROM {S}.pipeline_updates ORDER BY end_time DESC NULLS LAST, update_seq DESC LIMIT 1)"
)

# (title, panel type, Grafana format, SQL, columns)
PIPELINE_PANELS: list[tuple[str, str, str, str, list[str]]] = [
    (
        "Update duration",
        "timeseries",
        "time_series",
        f'SELECT end_time AS "time", duration_s AS "update duration (s)" FROM {S}.pipeline_updates '
        "WHERE end_time IS NOT NULL ORDER BY 1",
        ["time", "update duration (s)"],
    ),
    (
        "Updates by state",
        "barchart",
        "table",
        f"SELECT state, count(*) AS updates FROM {S}.pipeline_updates GROUP BY state ORDER BY state",
        ["state", "updates"],
    ),
    (
        "Flows of the latest update",
        "table",
        "table",
        f"SELECT flow_name, status, duration_s, rows_out, throughput_rows_per_s FROM {S}.flow_metrics "
        f"WHERE update_id = {LATEST_UPDATE} ORDER BY duration_s DESC NULLS LAST, flow_name",
        ["flow_name", "status", "duration_s", "rows_out", "throughput_rows_per_s"],
    ),
    (
        "Quality rate per rule",
        "timeseries",
        "time_series",
        f"SELECT u.end_time AS \"time\", q.dataset_name || ':' || q.expectation_name AS metric, q.quality_rate AS value "
        f"FROM {S}.quality_metrics q JOIN {S}.pipeline_updates u ON u.pipeline_id = q.pipeline_id "
        "AND u.update_id = q.update_id WHERE q.quality_rate IS NOT NULL AND u.end_time IS NOT NULL ORDER BY 1, 2",
        ["time", "metric", "value"],
    ),
    (
        "Rows dropped per update",
        "timeseries",
        "time_series",
        f'SELECT end_time AS "time", coalesce(rows_dropped, 0) AS "rows dropped", coalesce(rows_out, 0) AS "rows out" '
        f"FROM {S}.pipeline_updates WHERE end_time IS NOT NULL ORDER BY 1",
        ["time", "rows dropped", "rows out"],
    ),
    (
        "SLA status (latest update)",
        "table",
        "table",
        f"SELECT check_type, subject, observed_minutes, target_minutes, compliant FROM {S}.sla_status "
        f"WHERE update_id = {LATEST_UPDATE} ORDER BY check_type, subject",
        ["check_type", "subject", "observed_minutes", "target_minutes", "compliant"],
    ),
    (
        "Cost per day (DBU)",
        "barchart",
        "table",
        f"SELECT to_char(date_trunc('day', end_time), 'YYYY-MM-DD') AS day, round(sum(coalesce(dbus, 0))::numeric, 4) AS dbus "
        f"FROM {S}.pipeline_updates WHERE end_time IS NOT NULL GROUP BY 1 ORDER BY 1",
        ["day", "dbus"],
    ),
    (
        "Recent alerts",
        "table",
        "table",
        f"SELECT first_seen_at, severity, rule, subject, value, threshold, occurrences FROM {S}.alerts "
        "ORDER BY first_seen_at DESC, alert_id DESC LIMIT 50",
        ["first_seen_at", "severity", "rule", "subject", "value", "threshold", "occurrences"],
    ),
    (
        "Great Expectations: latest run",
        "barchart",
        "table",
        f"SELECT suite, count(*) FILTER (WHERE success) AS passed, count(*) FILTER (WHERE NOT success) AS failed "
        f"FROM {S}.gx_quality_results WHERE run_id = (SELECT run_id FROM {S}.gx_quality_results "
        "ORDER BY evaluated_at DESC LIMIT 1) GROUP BY suite ORDER BY suite",
        ["suite", "passed", "failed"],
    ),
]

ORDER_PANELS: list[tuple[str, str, str, str, list[str]]] = [
    (
        "Revenue per day (EUR)",
        "timeseries",
        "time_series",
        f'SELECT kpi_date::timestamptz AS "time", revenue::double precision AS revenue FROM {S}.gold_kpi_daily '
        "WHERE dimension = 'all' ORDER BY 1",
        ["time", "revenue"],
    ),
    (
        "Orders and AOV per day",
        "timeseries",
        "time_series",
        f'SELECT kpi_date::timestamptz AS "time", orders::double precision AS orders, aov::double precision AS aov '
        f"FROM {S}.gold_kpi_daily WHERE dimension = 'all' ORDER BY 1",
        ["time", "orders", "aov"],
    ),
    (
        "Revenue by channel",
        "timeseries",
        "time_series",
        f'SELECT kpi_date::timestamptz AS "time", dimension_value AS metric, revenue::double precision AS value '
        f"FROM {S}.gold_kpi_daily WHERE dimension = 'channel' ORDER BY 1, 2",
        ["time", "metric", "value"],
    ),
    (
        "Orders by status",
        "barchart",
        "table",
        f"SELECT dimension_value AS status, sum(orders)::bigint AS orders FROM {S}.gold_kpi_daily "
        "WHERE dimension = 'status' GROUP BY 1 ORDER BY 2 DESC, 1",
        ["status", "orders"],
    ),
    (
        "Totals",
        "stat",
        "table",
        f"SELECT sum(orders)::bigint AS orders, sum(revenue)::double precision AS revenue, "
        f"(sum(revenue) / nullif(sum(orders), 0))::double precision AS aov FROM {S}.gold_kpi_daily WHERE dimension = 'all'",
        ["orders", "revenue", "aov"],
    ),
    (
        "Revenue / order anomalies",
        "table",
        "table",
        f"SELECT alert_window AS day, rule, value AS robust_z, threshold FROM {S}.alerts "
        "WHERE rule IN ('revenue_anomaly', 'order_count_anomaly') ORDER BY alert_window DESC, rule",
        ["day", "rule", "robust_z", "threshold"],
    ),
]

DASHBOARDS: dict[str, tuple[str, str, list[tuple[str, str, str, str, list[str]]]]] = {
    "pipeline_monitoring": ("Pipeline monitoring", "pipeline-monitoring", PIPELINE_PANELS),
    "order_performance": ("Order performance", "order-performance", ORDER_PANELS),
}


def dashboard_json(name: str, schema: str = DEFAULT_SCHEMA) -> dict[str, Any]:
    """The Grafana dashboard model (schemaVersion 39) of ``name``, its schema variable set to ``schema``."""
    substitute_schema("", schema)  # refuse a schema that is not a plain identifier
    title, uid, panels = DASHBOARDS[name]
    out = []
    for index, (panel_title, kind, fmt, sql, columns) in enumerate(panels):
        width = 24 if kind == "table" else 12
        out.append(
            {
                "id": index + 1,
                "title": panel_title,
                "type": kind,
                "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": width, "x": 0 if width == 24 else (index % 2) * 12, "y": index * 8},
                "targets": [
                    {
                        "refId": "A",
                        "datasource": DATASOURCE,
                        "editorMode": "code",
                        "format": fmt,
                        "rawQuery": True,
                        "rawSql": sql,
                        "columns": columns,
                    }
                ],
            }
        )
    return {
        "uid": uid,
        "title": title,
        "tags": ["pipeline", "generated"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-30d", "to": "now"},
        "refresh": "5m",
        "templating": {
            "list": [
                {
                    "name": SCHEMA_VARIABLE,
                    "label": "Monitoring schema",
                    "description": "PostgreSQL schema of the metrics tables (the metrics config's export.schema)",
                    "type": "constant",
                    "hide": 2,
                    "query": schema,
                    "current": {"selected": False, "text": schema, "value": schema},
                    "options": [{"selected": True, "text": schema, "value": schema}],
                    "skipUrlSync": False,
                }
            ]
        },
        "panels": out,
    }


def write_dashboards(directory: Path, schema: str = DEFAULT_SCHEMA) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in DASHBOARDS:
        path = directory / f"{name}.json"
        path.write_text(json.dumps(dashboard_json(name, schema), indent=2) + "\n")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write the Grafana dashboards (pipeline/dashboards by default)."
    )
    parser.add_argument(
        "--config", help="environment config JSON: the schema variable takes its export.schema"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "dashboards")
    args = parser.parse_args(argv)
    schema = DEFAULT_SCHEMA
    if args.config:
        from pipeline.metrics.config import load_metrics_config

        schema = load_metrics_config(args.config).export.schema
    for written in write_dashboards(args.out, schema):
        print(written)


if __name__ == "__main__":
    main()
