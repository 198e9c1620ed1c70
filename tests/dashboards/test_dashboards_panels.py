"""Every dashboard panel's SQL runs on a real PostgreSQL over representative rows, with its declared shape."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from harness.postgres import PostgresInfo
from pipeline.metrics.migrate import apply_migrations
from pipeline.monitoring.alert_store import record_alerts
from pipeline.monitoring.alerts import (
    AlertSettings,
    DailyBusiness,
    QualityObservation,
    business_anomaly_alerts,
    quality_alerts,
)
from pipeline.monitoring.dashboard_specs import dashboard_json, main
from pipeline.monitoring.exports import write_gold_kpis, write_quality_results
from pipeline.monitoring.render import DASHBOARD_DIR, load_panels, render_dashboards, run_panel
from pipeline.utils.errors import DashboardError
from quality_suites.runner import QualityMetricRow

T0 = dt.datetime(2026, 1, 1, 1, 0, tzinfo=dt.UTC)
PID = "pipe-1"
#: not the default: the panels' ${monitoring_schema} must be substituted for the queries to work
SCHEMA = "ops_metrics"


@pytest.mark.unit
@pytest.mark.parametrize("name", ["pipeline_monitoring", "order_performance"])
def test_dashboard_files_match_their_definition(name: str) -> None:
    stored = json.loads((DASHBOARD_DIR / f"{name}.json").read_text())
    assert stored == dashboard_json(name), "run `python -m pipeline.monitoring.dashboard_specs`"
    assert {p["datasource"]["uid"] for p in stored["panels"]} == {"pipeline-monitoring-pg"}


@pytest.mark.unit
def test_panels_name_the_schema_only_through_the_grafana_variable() -> None:
    for panel in ALL_PANELS:
        assert "pipeline_monitoring" not in panel.sql and "${monitoring_schema}." in panel.sql, panel.title
        assert panel.schema == "pipeline_monitoring"  # the stored files' variable value
        substituted = panel.sql_for("ops_metrics")
        assert "${" not in substituted and "ops_metrics." in substituted, panel.title
    model = dashboard_json("order_performance", schema="ops_metrics")
    [variable] = model["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "monitoring_schema",
        "constant",
        "ops_metrics",
    )
    with pytest.raises(ValueError, match="plain identifier"):
        dashboard_json("order_performance", schema="x; DROP TABLE alerts")
    with pytest.raises(DashboardError) as info:
        run_panel(None, ALL_PANELS[0], 'x"y')
    assert info.value.panel == ALL_PANELS[0].title


@pytest.mark.unit
def test_dashboards_written_for_a_config_take_its_schema(tmp_path: Path) -> None:
    config = json.loads((DASHBOARD_DIR.parent / "configurations" / "dev_config.json").read_text())
    config["export"]["schema"] = "retail_metrics"
    (tmp_path / "c.json").write_text(json.dumps(config))
    main(["--config", str(tmp_path / "c.json"), "--out", str(tmp_path / "out")])
    panels = [p for path in sorted((tmp_path / "out").glob("*.json")) for p in load_panels(path)]
    assert len(panels) == 15 and {p.schema for p in panels} == {"retail_metrics"}
    assert all("retail_metrics." in p.sql_for() and "${" not in p.sql_for() for p in panels)


@pytest.fixture
def dash_conn(monitoring_pg: PostgresInfo) -> Iterator[Any]:
    name = f"dash_{uuid.uuid4().hex[:8]}"
    admin = monitoring_pg.connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn = psycopg2.connect(**{**monitoring_pg.connect_kwargs(), "dbname": name})
    try:
        apply_migrations(conn, SCHEMA)
        yield conn
    finally:
        conn.close()
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def _load(conn: Any) -> None:
    s = SCHEMA
    with conn, conn.cursor() as cur:
        for n in range(3):
            start = T0 + dt.timedelta(days=n)
            state = "FAILED" if n == 2 else "COMPLETED"
            cur.execute(
                f"INSERT INTO {s}.pipeline_updates (pipeline_id, update_id, state, start_time, end_time, duration_s, "
                "rows_out, rows_dropped, dbus, update_seq) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    PID,
                    f"u{n}",
                    state,
                    start,
                    start + dt.timedelta(seconds=30 + n),
                    30 + n,
                    1000,
                    10 + n,
                    0.01,
                    100 * (n + 1),
                ),
            )
            for flow in ("bronze_orders", "silver_orders"):
                cur.execute(
                    f"INSERT INTO {s}.flow_metrics (pipeline_id, update_id, flow_name, status, duration_s, rows_out, "
                    "throughput_rows_per_s, update_seq) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                    (PID, f"u{n}", flow, "COMPLETED", 10.0, 500, 50.0, 100 * (n + 1)),
                )
            cur.execute(
                f"INSERT INTO {s}.quality_metrics (pipeline_id, update_id, flow_name, dataset_name, expectation_name, "
                "passed_records, failed_records, update_seq) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    PID,
                    f"u{n}",
                    "silver_orders",
                    "silver_orders",
                    "order_id_present",
                    990 - n,
                    10 + n,
                    100 * (n + 1),
                ),
            )
            cur.execute(
                f"INSERT INTO {s}.sla_status (pipeline_id, update_id, check_type, subject, observed_minutes, "
                "target_minutes, compliant, update_seq) VALUES (%s,%s,'freshness','gold_daily_orders',%s,60,%s,%s)",
                (PID, f"u{n}", 30.0 * (n + 1), n < 2, 100 * (n + 1)),
            )
    settings = AlertSettings.from_config(
        {"quality": {"min_pass_rate": {"order_id_present": 0.995}}, "alerts": {"min_anomaly_history_days": 3}}
    )
    days = [DailyBusiness(dt.date(2026, 1, d), 1000.0 + d, 20) for d in range(1, 8)] + [
        DailyBusiness(dt.date(2026, 1, 8), 10.0, 1)
    ]
    alerts = quality_alerts(
        PID, [QualityObservation("u2", "silver_orders", "order_id_present", 988, 12)], settings
    )
    alerts += business_anomaly_alerts(PID, days, settings)
    assert len(record_alerts(conn, alerts, T0, s)) == 3
    kpis = []
    for d in range(1, 4):
        day = dt.date(2026, 1, d)
        kpis.append(dict(kpi_date=day, dimension="all", dimension_value="all", orders=20, units=40,
                         revenue=Decimal("1000.00"), aov=Decimal("50.00"), distinct_customers=18))  # fmt: skip
        for channel in ("web", "mobile_app"):
            kpis.append(dict(kpi_date=day, dimension="channel", dimension_value=channel, orders=10, units=20,
                             revenue=Decimal("500.00"), aov=Decimal("50.00"), distinct_customers=9))  # fmt: skip
        kpis.append(dict(kpi_date=day, dimension="status", dimension_value="paid", orders=20, units=40,
                         revenue=Decimal("1000.00"), aov=Decimal("50.00"), distinct_customers=18))  # fmt: skip
    assert write_gold_kpis(conn, PID, kpis, schema=s) == 12
    gx_rows = [
        QualityMetricRow(
            "gx-1", suite, suite, "expect_column_values_to_not_be_null", "order_id", ok, "0", 0, 10, T0
        )
        for suite, ok in (("silver_orders", True), ("gold_daily_orders", False))
    ]
    assert write_quality_results(conn, PID, gx_rows, schema=s) == 2
    assert write_quality_results(conn, PID, gx_rows, schema=s) == 2  # upsert: still two rows
    with conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {s}.gx_quality_results")
        assert cur.fetchone()[0] == 2


ALL_PANELS = [p for path in sorted(DASHBOARD_DIR.glob("*.json")) for p in load_panels(path)]


@pytest.mark.postgres
def test_every_panel_returns_rows_of_its_declared_shape(dash_conn: Any, tmp_path: Path) -> None:
    _load(dash_conn)
    shapes = {}
    for panel in ALL_PANELS:
        names, rows = run_panel(dash_conn, panel, SCHEMA)
        assert names == panel.columns, panel.title
        assert rows, f"{panel.dashboard}: {panel.title} returned no rows"
        assert all(len(r) == len(panel.columns) for r in rows)
        if panel.format == "time_series":
            assert all(isinstance(r[0], dt.datetime) for r in rows), panel.title
        shapes[panel.title] = len(rows)
    assert len(shapes) == len(ALL_PANELS) == 15
    assert shapes["Updates by state"] == 2 and shapes["Flows of the latest update"] == 2
    assert (
        shapes["Revenue by channel"] == 6 and shapes["Revenue / order anomalies"] == 2
    )  # revenue and order count on 2026-01-08
    charts = render_dashboards(dash_conn, tmp_path / "charts", schema=SCHEMA)
    assert len(charts) == 15
    for _, path in charts:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
