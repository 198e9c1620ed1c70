"""Small exporters for what the metrics export (pipeline/metrics) does not carry: GX results, gold KPIs.

Both upsert on their natural keys into the tables of migration 0003, so a re-run replaces rows
instead of duplicating them. Daily KPIs are computed with `GOLD_KPI_SQL` over the current state of
the orders (silver orders + lines, the same definitions as the gold daily aggregates: order date,
revenue = Σ line_total, AOV = revenue / orders), overall and by channel and status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.monitoring.alert_store import DEFAULT_SCHEMA, _quote, ensure_alerts_table

__all__ = ["GOLD_KPI_SQL", "gold_kpi_rows", "write_gold_kpis", "write_quality_results"]

GOLD_KPI_SQL = """
WITH o AS (
  SELECT o.order_id, o.customer_id, o.status, o.channel, CAST(o.order_time AS DATE) AS kpi_date,
         SUM(l.line_total) AS revenue, SUM(l.quantity) AS units
    FROM {ns}.silver_orders o LEFT JOIN {ns}.silver_order_lines l ON o.order_id = l.order_id
   GROUP BY o.order_id, o.customer_id, o.status, o.channel, CAST(o.order_time AS DATE)
), d AS (
  SELECT kpi_date, 'all' AS dimension, 'all' AS dimension_value, order_id, customer_id, revenue, units FROM o
  UNION ALL SELECT kpi_date, 'channel', channel, order_id, customer_id, revenue, units FROM o
  UNION ALL SELECT kpi_date, 'status', status, order_id, customer_id, revenue, units FROM o
)
SELECT kpi_date, dimension, dimension_value, COUNT(*) AS orders, CAST(SUM(units) AS BIGINT) AS units,
       CAST(COALESCE(SUM(revenue), 0) AS DECIMAL(18,2)) AS revenue,
       CAST(COALESCE(SUM(revenue), 0) / COUNT(*) AS DECIMAL(18,2)) AS aov,
       COUNT(DISTINCT customer_id) AS distinct_customers
  FROM d GROUP BY kpi_date, dimension, dimension_value
"""

_KPI_COLUMNS = (
    "kpi_date",
    "dimension",
    "dimension_value",
    "orders",
    "units",
    "revenue",
    "aov",
    "distinct_customers",
)


def gold_kpi_rows(spark: Any, namespace: str) -> list[dict[str, Any]]:
    """Daily KPI rows from the pipeline's tables in ``namespace`` (runs on Databricks and locally)."""
    return [row.asDict() for row in spark.sql(GOLD_KPI_SQL.format(ns=namespace)).collect()]


def _upsert(
    conn: Any, table: str, columns: Sequence[str], keys: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    from psycopg2.extras import execute_values

    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )
    batch = list(rows)
    with conn, conn.cursor() as cur:
        execute_values(cur, sql, batch, page_size=500)
    return len(batch)


def write_gold_kpis(
    conn: Any, pipeline_id: str, rows: Iterable[Mapping[str, Any]], schema: str = DEFAULT_SCHEMA
) -> int:
    """Upsert daily KPI rows (see `gold_kpi_rows`); returns the number written."""
    ensure_alerts_table(conn, schema)
    return _upsert(
        conn,
        f"{_quote(schema)}.gold_kpi_daily",
        ("pipeline_id", *_KPI_COLUMNS),
        ("pipeline_id", "kpi_date", "dimension", "dimension_value"),
        ([pipeline_id, *(row[c] for c in _KPI_COLUMNS)] for row in rows),
    )


def write_quality_results(
    conn: Any, pipeline_id: str, rows: Iterable[Any], schema: str = DEFAULT_SCHEMA
) -> int:
    """Upsert GX metric rows (`quality_suites.runner.QualityMetricRow`); returns the number written."""
    columns = (
        "run_id", "suite", "table_name", "expectation", "column_name", "success",
        "observed_value", "unexpected_count", "element_count", "evaluated_at",
    )  # fmt: skip
    ensure_alerts_table(conn, schema)
    return _upsert(
        conn,
        f"{_quote(schema)}.gx_quality_results",
        ("pipeline_id", *columns),
        ("pipeline_id", "run_id", "suite", "expectation", "column_name"),
        (
            [pipeline_id, *((getattr(r, c) or "") if c == "column_name" else getattr(r, c) for c in columns)]
            for r in rows
        ),
    )
