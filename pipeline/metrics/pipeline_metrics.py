"""Operational metrics computed from a DLT event log (and table state), with queries that run unchanged
on Databricks and locally.

Input is any DataFrame with Databricks' event-log columns (id, sequence, origin, timestamp, message,
level, maturity_level, error, details, event_type): ``spark.sql("SELECT * FROM event_log('<id>')")``
or the published event-log table on Databricks, ``LocalPipeline.event_log()`` locally. The
``event_log()`` table-valued function returns ``sequence`` and ``origin`` as JSON strings while the
Delta table holds structs; `normalize_event_log` turns both into structs. ``details`` and ``error``
stay JSON strings and are read with ``get_json_object`` / ``from_json`` (the ``details:a.b`` colon
syntax is Databricks-only).

Only updates that reached a terminal state are measured: their numbers are final, so a metric row
never changes once written. Every row carries ``update_seq``, the highest event sequence number of
its update: the export's watermark is expressed in it.

The SQL expressions are module constants so unit tests can read them without a JVM.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipeline.metrics.config import CostSettings, SlaSettings

# --- expressions over one event ---------------------------------------------------------------

#: Order of events. Locally both counters are the same global sequence; on Databricks events of the
#: data plane carry data_plane_id.seq_no and those of the control plane control_plane_seq_no.
EVENT_SEQ = "coalesce(sequence.data_plane_id.seq_no, sequence.control_plane_seq_no)"

TERMINAL_UPDATE_STATES = ("COMPLETED", "FAILED", "CANCELED", "STOPPED")
TERMINAL_FLOW_STATES = ("COMPLETED", "FAILED", "SKIPPED", "STOPPED", "EXCLUDED")


def json_long(path: str) -> str:
    """A BIGINT read from ``details`` at a JSON path (NULL when absent or not a number)."""
    return f"try_cast(get_json_object(details, '$.{path}') AS BIGINT)"


def json_double(path: str) -> str:
    return f"try_cast(get_json_object(details, '$.{path}') AS DOUBLE)"


def json_text(path: str, column: str = "details") -> str:
    return f"get_json_object({column}, '$.{path}')"


EVENT_COLUMNS: dict[str, str] = {
    "seq": EVENT_SEQ,
    "pipeline_id": "origin.pipeline_id",
    "pipeline_name": "origin.pipeline_name",
    "update_id": "origin.update_id",
    "flow_name": "origin.flow_name",
    "dataset_name": "origin.dataset_name",
    "update_state": json_text("update_progress.state"),
    "flow_status": json_text("flow_progress.status"),
    "num_output_rows": json_long("flow_progress.metrics.num_output_rows"),
    "num_upserted_rows": json_long("flow_progress.metrics.num_upserted_rows"),
    "num_deleted_rows": json_long("flow_progress.metrics.num_deleted_rows"),
    "dropped_records": json_long("flow_progress.data_quality.dropped_records"),
    "backlog_bytes": json_long("flow_progress.metrics.backlog_bytes"),
    # harness extensions (absent on Databricks, where these stay NULL)
    "num_files_read": json_long("flow_progress.metrics.num_files_read"),
    "num_bytes_read": json_long("flow_progress.metrics.num_bytes_read"),
    "num_corrupt_records": json_long("flow_progress.metrics.num_corrupt_records"),
    "num_rescued_records": json_long("flow_progress.metrics.num_rescued_records"),
    "num_batches": json_long("flow_progress.num_batches"),
    "has_metrics": "get_json_object(details, '$.flow_progress.metrics') IS NOT NULL",
    "error_class": json_text("exceptions[0].class_name", "error"),
    "error_message": f"coalesce({json_text('exceptions[0].message', 'error')}, message)",
    "cause": json_text("create_update.cause"),
    "full_refresh": f"try_cast({json_text('create_update.full_refresh')} AS BOOLEAN)",
    "task_slots": json_long("cluster_resources.num_task_slots"),
}

EXPECTATIONS_SCHEMA = "array<struct<name:string,dataset:string,passed_records:bigint,failed_records:bigint>>"
RULES_SCHEMA = "array<struct<name:string,constraint:string,action:string>>"

# --- the tables this module produces (column -> Spark SQL type), also the staged Delta schema ---

UPDATE_COLUMNS = (
    "pipeline_id",
    "update_id",
    "pipeline_name",
    "state",
    "cause",
    "full_refresh",
    "start_time",
    "end_time",
    "duration_s",
    "num_flows",
    "num_flows_completed",
    "num_flows_failed",
    "num_flows_skipped",
    "rows_out",
    "rows_upserted",
    "rows_deleted",
    "rows_dropped",
    "rows_quarantined",
    "files_read",
    "bytes_read",
    "core_seconds",
    "dbus",
    "cost_usd",
    "error_class",
    "error_message",
    "first_seq",
    "update_seq",
)
FLOW_COLUMNS = (
    "pipeline_id",
    "update_id",
    "flow_name",
    "dataset_name",
    "status",
    "start_time",
    "end_time",
    "duration_s",
    "rows_in",
    "rows_out",
    "rows_upserted",
    "rows_deleted",
    "rows_dropped",
    "num_batches",
    "avg_batch_rows",
    "throughput_rows_per_s",
    "files_read",
    "bytes_read",
    "corrupt_records",
    "rescued_records",
    "core_seconds",
    "error_class",
    "error_message",
    "update_seq",
)
QUALITY_COLUMNS = (
    "pipeline_id",
    "update_id",
    "flow_name",
    "dataset_name",
    "expectation_name",
    "action",
    "constraint_sql",
    "passed_records",
    "failed_records",
    "quality_rate",
    "update_seq",
)
LINEAGE_COLUMNS = (
    "pipeline_id",
    "update_id",
    "flow_name",
    "flow_type",
    "source_dataset",
    "target_dataset",
    "seen_at",
    "update_seq",
)
SLA_COLUMNS = (
    "pipeline_id",
    "update_id",
    "check_type",
    "subject",
    "measured_at",
    "newest_event_time",
    "observed_minutes",
    "target_minutes",
    "compliant",
    "update_seq",
)

#: Natural keys: one row per key, in staging and in PostgreSQL (ON CONFLICT targets).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "pipeline_updates": ("pipeline_id", "update_id"),
    "flow_metrics": ("pipeline_id", "update_id", "flow_name"),
    "quality_metrics": ("pipeline_id", "update_id", "flow_name", "dataset_name", "expectation_name"),
    "lineage_edges": ("pipeline_id", "flow_name", "source_dataset", "target_dataset"),
    "sla_status": ("pipeline_id", "update_id", "check_type", "subject"),
}
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "pipeline_updates": UPDATE_COLUMNS,
    "flow_metrics": FLOW_COLUMNS,
    "quality_metrics": QUALITY_COLUMNS,
    "lineage_edges": LINEAGE_COLUMNS,
    "sla_status": SLA_COLUMNS,
}


def cost_expressions(cost: CostSettings) -> dict[str, str]:
    """DBUs and USD from ``core_seconds``: dbus = core_seconds / 3600 * dbu_per_core_hour."""
    dbus = f"core_seconds / 3600.0 * {float(cost.dbu_per_core_hour)!r}"
    return {"dbus": dbus, "cost_usd": f"({dbus}) * {float(cost.usd_per_dbu)!r}"}


def estimate_cost(core_seconds: float, cost: CostSettings) -> tuple[float, float]:
    """(dbus, usd) in Python: the same formula as `cost_expressions`, for checks and reports."""
    dbus = core_seconds / 3600.0 * cost.dbu_per_core_hour
    return dbus, dbus * cost.usd_per_dbu


# --- DataFrame functions ------------------------------------------------------------------------


def normalize_event_log(event_log: Any) -> Any:
    """The event log with ``sequence`` and ``origin`` as structs (the ``event_log()`` TVF gives JSON strings)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    fields = {f.name: f.dataType for f in event_log.schema.fields}
    out = event_log
    if isinstance(fields.get("sequence"), StringType):
        out = out.withColumn(
            "sequence",
            F.from_json(
                "sequence",
                "control_plane_seq_no BIGINT, data_plane_id STRUCT<instance: STRING, seq_no: BIGINT>",
            ),
        )
    if isinstance(fields.get("origin"), StringType):
        out = out.withColumn(
            "origin",
            F.from_json(
                "origin",
                "pipeline_id STRING, pipeline_name STRING, update_id STRING, flow_id STRING, flow_name STRING, "
                "dataset_name STRING, batch_id BIGINT, cluster_id STRING",
            ),
        )
    return out


def events(event_log: Any) -> Any:
    """One row per event with the `EVENT_COLUMNS` extracted (and the raw columns kept)."""
    from pyspark.sql import functions as F

    log = normalize_event_log(event_log)
    return log.select("*", *[F.expr(sql).alias(name) for name, sql in EVENT_COLUMNS.items()])


def terminal_updates(ev: Any, since_seq: int = 0) -> Any:
    """Updates that reached a terminal state, with their first/last sequence, beyond ``since_seq``."""
    from pyspark.sql import functions as F

    states = ", ".join(f"'{s}'" for s in TERMINAL_UPDATE_STATES)
    updates = (
        ev.where("update_id IS NOT NULL")
        .groupBy("pipeline_id", "update_id")
        .agg(
            F.expr("max(pipeline_name)").alias("pipeline_name"),
            F.expr("max_by(update_state, CASE WHEN update_state IS NOT NULL THEN seq END)").alias("state"),
            F.expr("min(timestamp)").alias("start_time"),
            F.expr(f"max(CASE WHEN update_state IN ({states}) THEN timestamp END)").alias("end_time"),
            F.expr("max(cause)").alias("cause"),
            F.expr("max(full_refresh)").alias("full_refresh"),
            F.expr(
                f"max_by(error_class, CASE WHEN event_type = 'update_progress' AND update_state IN ({states}) "
                "AND error IS NOT NULL THEN seq END)"
            ).alias("error_class"),
            F.expr(
                f"max_by(error_message, CASE WHEN event_type = 'update_progress' AND update_state IN ({states}) "
                "AND error IS NOT NULL THEN seq END)"
            ).alias("error_message"),
            F.expr("min(seq)").alias("first_seq"),
            F.expr("max(seq)").alias("update_seq"),
        )
    )
    return updates.where(f"state IN ({states}) AND update_seq > {int(since_seq)}")


def flow_metrics(ev: Any, updates: Any, cores: int) -> Any:
    """Per update and flow: status, times, rows in/out, dropped, batches, throughput, files, errors."""
    from pyspark.sql import functions as F

    terminal = ", ".join(f"'{s}'" for s in TERMINAL_FLOW_STATES)
    flows = (
        ev.where("event_type = 'flow_progress' AND flow_name IS NOT NULL")
        .groupBy("pipeline_id", "update_id", "flow_name")
        .agg(
            F.expr("max(dataset_name)").alias("dataset_name"),
            F.expr("max_by(flow_status, seq)").alias("status"),
            F.expr("min(CASE WHEN flow_status IN ('STARTING', 'RUNNING') THEN timestamp END)").alias(
                "start_time"
            ),
            F.expr(f"max(CASE WHEN flow_status IN ({terminal}) THEN timestamp END)").alias("end_time"),
            F.expr("sum(num_output_rows)").alias("rows_out"),
            F.expr("sum(num_upserted_rows)").alias("rows_upserted"),
            F.expr("sum(num_deleted_rows)").alias("rows_deleted"),
            F.expr("coalesce(sum(dropped_records), 0)").alias("rows_dropped"),
            F.expr("coalesce(max(num_batches), count_if(has_metrics))").alias("num_batches"),
            F.expr("sum(num_files_read)").alias("files_read"),
            F.expr("sum(num_bytes_read)").alias("bytes_read"),
            F.expr("sum(num_corrupt_records)").alias("corrupt_records"),
            F.expr("sum(num_rescued_records)").alias("rescued_records"),
            F.expr("max_by(error_class, CASE WHEN error IS NOT NULL THEN seq END)").alias("error_class"),
            F.expr("max_by(error_message, CASE WHEN error IS NOT NULL THEN seq END)").alias("error_message"),
        )
        .join(updates.select("pipeline_id", "update_id", "update_seq"), ["pipeline_id", "update_id"])
    )
    return (
        flows.selectExpr(
            "*",
            "CASE WHEN start_time IS NOT NULL AND end_time IS NOT NULL "
            "THEN (unix_micros(end_time) - unix_micros(start_time)) / 1e6 END AS duration_s",
        )
        .selectExpr(
            "*",
            "coalesce(rows_out, coalesce(rows_upserted, 0) + coalesce(rows_deleted, 0)) + rows_dropped AS rows_in",
            "CASE WHEN num_batches > 0 THEN rows_out / num_batches END AS avg_batch_rows",
            "CASE WHEN duration_s > 0 THEN rows_out / duration_s END AS throughput_rows_per_s",
            f"duration_s * {int(cores)} AS core_seconds",
        )
        .select(*FLOW_COLUMNS)
    )


def update_metrics(
    updates: Any, flows: Any, cost: CostSettings, quarantine_like: str = "%quarantine%"
) -> Any:
    """Per update: state, times, flow counts, row totals (quarantined = rows into quarantine tables), cost."""
    from pyspark.sql import functions as F

    totals = flows.groupBy("pipeline_id", "update_id").agg(
        *[
            F.expr(sql).alias(name)
            for name, sql in {
                "num_flows": "count(*)",
                "num_flows_completed": "count_if(status = 'COMPLETED')",
                "num_flows_failed": "count_if(status = 'FAILED')",
                "num_flows_skipped": "count_if(status IN ('SKIPPED', 'EXCLUDED'))",
                "rows_out": "sum(rows_out)",
                "rows_upserted": "sum(rows_upserted)",
                "rows_deleted": "sum(rows_deleted)",
                "rows_dropped": "sum(rows_dropped)",
                "rows_quarantined": f"coalesce(sum(CASE WHEN lower(dataset_name) LIKE '{quarantine_like}' "
                "THEN rows_out END), 0)",
                "files_read": "sum(files_read)",
                "bytes_read": "sum(bytes_read)",
                "core_seconds": "coalesce(sum(core_seconds), 0.0)",
            }.items()
        ]
    )
    costs = cost_expressions(cost)
    joined = updates.join(totals, ["pipeline_id", "update_id"], "left").selectExpr(
        "*",
        "(unix_micros(end_time) - unix_micros(start_time)) / 1e6 AS duration_s",
        f"{costs['dbus']} AS dbus",
        f"{costs['cost_usd']} AS cost_usd",
    )
    return joined.fillna(
        0, subset=["num_flows", "num_flows_completed", "num_flows_failed", "num_flows_skipped"]
    ).select(*UPDATE_COLUMNS)


def quality_metrics(ev: Any, updates: Any) -> Any:
    """Per update, flow and expectation: passed / failed records and the quality rate, with its action."""
    from pyspark.sql import functions as F

    per_rule = (
        ev.where("event_type = 'flow_progress'")
        .select(
            "pipeline_id",
            "update_id",
            "flow_name",
            "dataset_name",
            F.explode(
                F.from_json(F.expr(json_text("flow_progress.data_quality.expectations")), EXPECTATIONS_SCHEMA)
            ).alias("e"),
        )
        .groupBy(
            "pipeline_id",
            "update_id",
            "flow_name",
            F.coalesce("e.dataset", "dataset_name").alias("dataset_name"),
            F.col("e.name").alias("expectation_name"),
        )
        .agg(
            F.expr("coalesce(sum(e.passed_records), 0)").alias("passed_records"),
            F.expr("coalesce(sum(e.failed_records), 0)").alias("failed_records"),
        )
    )
    rules = (
        ev.where("event_type IN ('dataset_definition', 'flow_definition')")
        .select(
            "update_id",
            F.expr(
                "coalesce(get_json_object(details, '$.dataset_definition.dataset_name'), "
                "get_json_object(details, '$.flow_definition.output_dataset'))"
            ).alias("dataset_name"),
            F.explode(
                F.from_json(
                    F.expr(
                        "coalesce(get_json_object(details, '$.dataset_definition.expectations'), "
                        "get_json_object(details, '$.flow_definition.expectations'))"
                    ),
                    RULES_SCHEMA,
                )
            ).alias("r"),
        )
        .groupBy("update_id", "dataset_name", F.col("r.name").alias("expectation_name"))
        .agg(F.expr("max(r.action)").alias("action"), F.expr("max(r.constraint)").alias("constraint_sql"))
    )
    return (
        per_rule.join(rules, ["update_id", "dataset_name", "expectation_name"], "left")
        .join(updates.select("pipeline_id", "update_id", "update_seq"), ["pipeline_id", "update_id"])
        .selectExpr(
            "*",
            "CASE WHEN passed_records + failed_records > 0 "
            "THEN passed_records / (passed_records + failed_records) END AS quality_rate",
        )
        .select(*QUALITY_COLUMNS)
    )


def lineage_edges(ev: Any, updates: Any) -> Any:
    """Dataset -> dataset edges from flow_definition events (input_datasets as names or {name} objects)."""
    from pyspark.sql import functions as F

    edges = (
        ev.where("event_type = 'flow_definition'")
        .select(
            "pipeline_id",
            "update_id",
            "flow_name",
            "timestamp",
            F.expr(json_text("flow_definition.flow_type")).alias("flow_type"),
            F.expr(json_text("flow_definition.output_dataset")).alias("target_dataset"),
            F.explode(
                F.from_json(F.expr(json_text("flow_definition.input_datasets")), "array<string>")
            ).alias("src"),
        )
        .selectExpr("*", "coalesce(get_json_object(src, '$.name'), src) AS source_dataset")
        .groupBy("pipeline_id", "update_id", "flow_name", "source_dataset", "target_dataset")
        .agg(F.expr("max(flow_type)").alias("flow_type"), F.expr("max(timestamp)").alias("seen_at"))
    )
    return edges.join(
        updates.select("pipeline_id", "update_id", "update_seq"), ["pipeline_id", "update_id"]
    ).select(*LINEAGE_COLUMNS)


def detect_cores(ev: Any) -> int | None:
    """Task slots reported by ``cluster_resources`` events (classic compute on Databricks), if any."""
    row = ev.where("event_type = 'cluster_resources'").selectExpr("max(task_slots) AS n").first()
    return int(row["n"]) if row is not None and row["n"] is not None else None


def _event_time_column(df: Any, configured: str | None) -> str | None:
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    if configured:
        return configured
    for preferred in (
        "event_time",
        "event_timestamp",
        "order_timestamp",
        "updated_at",
        "ingested_at",
        "_ingested_at",
    ):
        if preferred in df.columns:
            return preferred
    for f in df.schema.fields:
        if isinstance(f.dataType, TimestampType | TimestampNTZType | DateType):
            return f.name
    return None


def freshness_rows(tables: Mapping[str, Any], sla: SlaSettings, now: datetime) -> list[dict[str, Any]]:
    """Per table: newest event time, age in minutes at ``now`` and compliance with its freshness target.

    The event-time column is ``sla.event_time_columns[table]``, else a column named like an event
    time, else the first timestamp column. ``now`` is passed in (determinism; the export time).
    """
    out = []
    for table, df in sorted(tables.items()):
        column = _event_time_column(df, sla.event_time_columns.get(table))
        # try_cast: bronze tables keep event times as delivered (STRING); max() of strings is no time
        newest = (
            df.selectExpr(f"max(try_cast(`{column}` AS TIMESTAMP)) AS t").first()["t"] if column else None
        )
        if newest is not None and not isinstance(newest, datetime):  # a DATE column
            newest = datetime(newest.year, newest.month, newest.day)
        if newest is not None and newest.tzinfo is None and now.tzinfo is not None:
            newest = newest.replace(tzinfo=now.tzinfo)
        age = (now - newest).total_seconds() / 60.0 if newest is not None else None
        target = sla.freshness_minutes.get(table)
        compliant = None if target is None else (age is not None and age <= target)
        out.append(
            {
                "check_type": "freshness",
                "subject": table,
                "measured_at": now,
                "newest_event_time": newest,
                "observed_minutes": age,
                "target_minutes": target,
                "compliant": compliant,
            }
        )
    return out


def sla_status(
    spark: Any,
    updates: Any,
    sla: SlaSettings,
    now: datetime,
    tables: Mapping[str, Any] | None = None,
) -> Any:
    """SLA rows: update duration against ``max_update_duration_minutes`` for each update, and table
    freshness (measured now) attached to the newest update being measured."""
    from pyspark.sql import functions as F

    target = sla.max_update_duration_minutes
    duration = updates.select(
        "pipeline_id",
        "update_id",
        F.lit("update_duration").alias("check_type"),
        F.lit("update").alias("subject"),
        F.col("end_time").alias("measured_at"),
        F.col("end_time").alias("newest_event_time"),
        F.expr("(unix_micros(end_time) - unix_micros(start_time)) / 6e7").alias("observed_minutes"),
        F.lit(target).cast("double").alias("target_minutes"),
        (
            F.expr(f"(unix_micros(end_time) - unix_micros(start_time)) / 6e7 <= {target}")
            if target is not None
            else F.lit(None).cast("boolean")
        ).alias("compliant"),
        "update_seq",
    )
    newest = updates.orderBy(F.desc("update_seq")).select("pipeline_id", "update_id", "update_seq").first()
    rows = freshness_rows(tables or {}, sla, now) if newest is not None else []
    if not rows:
        return duration.select(*SLA_COLUMNS)
    keyed = [
        {
            "pipeline_id": newest["pipeline_id"],
            "update_id": newest["update_id"],
            "update_seq": newest["update_seq"],
            **r,
        }
        for r in rows
    ]
    schema = (
        "pipeline_id STRING, update_id STRING, check_type STRING, subject STRING, measured_at TIMESTAMP, "
        "newest_event_time TIMESTAMP, observed_minutes DOUBLE, target_minutes DOUBLE, compliant BOOLEAN, update_seq BIGINT"
    )
    fresh = spark.createDataFrame([tuple(r[c] for c in SLA_COLUMNS) for r in keyed], schema)
    return duration.select(*SLA_COLUMNS).unionByName(fresh)


def compute_metrics(
    event_log: Any,
    *,
    cost: CostSettings,
    sla: SlaSettings,
    now: datetime,
    cores: int,
    tables: Mapping[str, Any] | None = None,
    since_seq: int = 0,
    quarantine_like: str = "%quarantine%",
) -> dict[str, Any]:
    """All metric DataFrames (keyed by table name, see `TABLE_COLUMNS`) for terminal updates past ``since_seq``."""
    ev = events(event_log).cache()
    updates = terminal_updates(ev, since_seq).cache()
    flows = flow_metrics(ev, updates, cost.cores or cores)
    return {
        "pipeline_updates": update_metrics(updates, flows, cost, quarantine_like),
        "flow_metrics": flows,
        "quality_metrics": quality_metrics(ev, updates),
        "lineage_edges": lineage_edges(ev, updates),
        "sla_status": sla_status(event_log.sparkSession, updates, sla, now, tables),
    }


__all__ = [
    "EVENT_COLUMNS",
    "EVENT_SEQ",
    "NATURAL_KEYS",
    "TABLE_COLUMNS",
    "compute_metrics",
    "cost_expressions",
    "detect_cores",
    "estimate_cost",
    "events",
    "flow_metrics",
    "freshness_rows",
    "lineage_edges",
    "normalize_event_log",
    "quality_metrics",
    "sla_status",
    "terminal_updates",
    "update_metrics",
]
