"""Snapshot CDC (apply_changes_from_snapshot / create_auto_cdc_from_snapshot_flow).

Databricks "compares snapshots to determine changes, then processes them": each snapshot is diffed
against the target's current rows into change events sequenced by the snapshot version (new key →
upsert, changed row → upsert, key gone → delete; unchanged rows produce nothing), and those events go
through the same SCD1 / SCD2 appliers as AUTO CDC. SCD2 __START_AT / __END_AT therefore carry versions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from harness.cdc.model import DELETE, END_AT, OP, SEQ, UPSERT, CdcBatchMetrics, CdcTarget
from harness.cdc.plan import CdcPlan, resolve_snapshot_plan
from harness.cdc.scd1 import apply_scd1
from harness.cdc.scd2 import apply_scd2
from harness.cdc.sql import ensure_table, quote, quote_table
from harness.cdc.state import encode_version, latest_snapshot_version, record_snapshot_version
from harness.errors import CdcDefinitionError, FlowExecutionError
from harness.shim.records import SnapshotCdcFlowDef

_IN_SNAPSHOT = "__cdc_in_snapshot"
_IN_TARGET = "__cdc_in_target"


def apply_snapshot(
    spark: SparkSession, snapshot_df: DataFrame, target: CdcTarget, spec: SnapshotCdcFlowDef, version: Any
) -> CdcBatchMetrics:
    """Apply one full snapshot as `version`; a version not newer than the last applied one is skipped.

    Databricks processes snapshots "in ascending version order" and skips one that arrives out of
    order, so skipping also makes re-applying the same version after a crash a no-op.
    """
    flow = spec.name
    try:
        encode_version(version)
    except TypeError as exc:
        raise CdcDefinitionError(flow, f"snapshot version {version!r} is not usable: {exc}") from exc
    latest = latest_snapshot_version(target.state_path, flow)
    if latest is not None and not _newer(flow, version, latest):
        return CdcBatchMetrics.empty()
    version_column = _version_literal(version)
    version_type = snapshot_df.select(version_column.alias("v")).schema["v"].dataType
    plan = resolve_snapshot_plan(snapshot_df, spec, version_type)
    ensure_table(spark, target.table_name, target.path, plan.target_schema)
    snapshot = snapshot_df.localCheckpoint(eager=True)
    rows = _check_unique_keys(snapshot, plan)
    current = spark.table(quote_table(target.table_name))
    if plan.scd_type == 2:
        current = current.filter(F.col(END_AT).isNull())
    events = snapshot_changes(
        snapshot, current.select(*[F.col(quote(c)) for c in plan.columns]), plan, version_column
    )
    events = events.localCheckpoint(eager=True)
    if plan.scd_type == 1:
        counts = apply_scd1(spark, events, plan, target, has_truncate=False)
    else:
        counts = apply_scd2(spark, events, plan, target)
    record_snapshot_version(target.state_path, flow, version)
    return counts.metrics(rows)


def run_snapshot_flow(
    spark: SparkSession, target: CdcTarget, spec: SnapshotCdcFlowDef, read_source: Callable[[str], DataFrame]
) -> list[CdcBatchMetrics]:
    """Run a snapshot flow for one pipeline update; one metrics record per snapshot applied.

    Table source: read it once (`read_source(name)`) as the next integer version (0, 1, 2, ... one per
    update, as in Databricks' published example). Function source: call
    `snapshot_and_version(latest_version)` until it returns None, applying each snapshot in turn; the
    latest version is persisted in state_path, so the next update resumes from it.
    """
    flow = spec.name
    if (spec.source is None) == (spec.snapshot_and_version is None):
        raise CdcDefinitionError(
            flow, "source must be either a table/view name or a snapshot-and-version function"
        )
    latest = latest_snapshot_version(target.state_path, flow)
    if spec.source is not None:
        if latest is not None and not isinstance(latest, int):
            raise FlowExecutionError(
                flow, f"stored snapshot version {latest!r} is not an integer; full refresh needed"
            )
        version = 0 if latest is None else latest + 1
        return [apply_snapshot(spark, read_source(spec.source), target, spec, version)]
    applied: list[CdcBatchMetrics] = []
    assert spec.snapshot_and_version is not None
    while True:
        result = spec.snapshot_and_version(latest)
        if result is None:
            return applied
        if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[0], DataFrame):
            raise FlowExecutionError(
                flow,
                "the snapshot function must return (DataFrame, version) or None, "
                f"got {type(result).__name__}",
            )
        snapshot_df, version = result
        if latest is not None and not _newer(flow, version, latest):
            raise FlowExecutionError(
                flow,
                f"the snapshot function returned version {version!r} after {latest!r}; it must return a "
                "newer version or None (otherwise it would be called forever)",
            )
        applied.append(apply_snapshot(spark, snapshot_df, target, spec, version))
        latest = version


def snapshot_changes(snapshot: DataFrame, current: DataFrame, plan: CdcPlan, version: Column) -> DataFrame:
    """Change events turning `current` (the target's rows) into `snapshot`, sequenced at `version`."""
    left = snapshot.select(*[F.col(quote(c)) for c in plan.columns], F.lit(True).alias(_IN_SNAPSHOT))
    right = current.select(
        *[F.col(quote(c)).alias(_current(c)) for c in plan.columns], F.lit(True).alias(_IN_TARGET)
    )
    on: Column | None = None
    for key in plan.keys:
        clause = F.col(quote(key)).eqNullSafe(F.col(quote(_current(key))))
        on = clause if on is None else on & clause
    joined = left.join(right, on=on, how="full_outer")
    changed = F.lit(False)
    for column in plan.value_columns:
        changed = changed | ~F.col(quote(column)).eqNullSafe(F.col(quote(_current(column))))
    in_snapshot = F.col(_IN_SNAPSHOT).isNotNull()
    return joined.filter(~in_snapshot | F.col(_IN_TARGET).isNull() | changed).select(
        *[
            F.when(in_snapshot, F.col(quote(c))).otherwise(F.col(quote(_current(c)))).alias(c)
            if c in plan.keys
            else F.col(quote(c))
            for c in plan.columns
        ],
        version.alias(SEQ),
        F.when(in_snapshot, F.lit(UPSERT)).otherwise(F.lit(DELETE)).alias(OP),
    )


def _check_unique_keys(snapshot: DataFrame, plan: CdcPlan) -> int:
    """Row count of the snapshot; a key present twice is an error (a snapshot has one row per key)."""
    row = (
        snapshot.groupBy(*[F.col(quote(k)) for k in plan.keys])
        .count()
        .agg(F.sum("count").alias("rows"), F.count_if(F.col("count") > 1).alias("duplicated"))
        .collect()[0]
    )
    if row.duplicated:
        raise FlowExecutionError(
            plan.flow,
            f"the snapshot has {row.duplicated} key(s) on more than one row; "
            f"keys {list(plan.keys)} must be unique",
        )
    return int(row.rows or 0)


def _version_literal(version: Any) -> Column:
    return F.lit(version).cast("bigint") if isinstance(version, int) else F.lit(version)


def _newer(flow: str, version: Any, latest: Any) -> bool:
    try:
        return bool(version > latest)
    except TypeError as exc:
        raise FlowExecutionError(
            flow, f"snapshot version {version!r} cannot be compared with the previous version {latest!r}"
        ) from exc


def _current(column: str) -> str:
    return f"__cdc_current_{column}"
