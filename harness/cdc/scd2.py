"""SCD type 2: one row per version, with __START_AT / __END_AT taken from sequence_by.

Out-of-order events can land anywhere in a key's history, and an update of untracked columns
changes a version in place without recording when. To get every case exact, the engine keeps the
applied change events (state_path/scd2_events) and, per batch, rebuilds the version chain of the
keys the batch touches from their full event history, then replaces those keys' rows with one
MERGE keyed on (keys, __START_AT): unchanged versions are left alone, changed ones updated, new
ones inserted, vanished ones deleted. An event whose (keys, sequence) is already in the log is
ignored, so a replayed batch touches nothing. The target is merged before the new events are
appended to the log: a crash in between leaves events that a replay rebuilds identically.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from harness.cdc.events import op_rank, value_hash
from harness.cdc.model import ACTION, DELETE, END_AT, OP, SEQ, START_AT, UPSERT, CdcTarget, MergeCounts
from harness.cdc.plan import CdcPlan
from harness.cdc.sql import ensure_path_table, merge, null_safe_on, quote, quote_table
from harness.cdc.state import SCD2_EVENTS, table_path

_RANK = "__cdc_rank"
_SEGMENT = "__cdc_segment"
_START = "__cdc_start"
_VERSION = "__cdc_version"
_NEXT = "__cdc_next"
_VALUES = "__cdc_values"


def apply_scd2(spark: SparkSession, events: DataFrame, plan: CdcPlan, target: CdcTarget) -> MergeCounts:
    """Apply one batch of normalised events (U and D only) to an SCD2 target."""
    log_path = table_path(target.state_path, SCD2_EVENTS)
    ensure_path_table(
        spark,
        log_path,
        StructType(
            [StructField(f.name, f.dataType, True) for f in plan.source_schema.fields]
            + [StructField(SEQ, plan.sequence_type, True), StructField(OP, StringType(), True)]
        ),
    )
    log = spark.read.format("delta").load(log_path)
    new = _new_events(events, log, plan).localCheckpoint(eager=True)
    if new.isEmpty():
        return MergeCounts()
    keys = [F.col(quote(k)) for k in plan.keys]
    touched = new.select(*keys).distinct()
    history = _semi_join(log.select(*new.columns), touched, plan.keys).unionByName(new)
    versions = rebuild_versions(history, plan)
    existing = _semi_join(spark.table(quote_table(target.table_name)), touched, plan.keys)
    vanished = existing.join(versions, on=_on(existing, versions, [*plan.keys, START_AT]), how="left_anti")
    source = (
        versions.withColumn(ACTION, F.lit(UPSERT))
        .unionByName(
            vanished.select(*keys, F.col(START_AT)).withColumn(ACTION, F.lit(DELETE)),
            allowMissingColumns=True,
        )
        .localCheckpoint(eager=True)
    )
    counts = _merge_versions(spark, source, plan, quote_table(target.table_name))
    # A plain append is enough: `new` holds only events absent from the log, and a replay after a
    # crash here recomputes the same `new` (nothing appended yet) or an empty one (append done).
    new.write.format("delta").mode("append").save(log_path)
    return counts


def rebuild_versions(history: DataFrame, plan: CdcPlan) -> DataFrame:
    """The version rows of every key in `history` (U/D events): keys, values, __START_AT, __END_AT.

    A version starts at an upsert that follows nothing, a delete, or an upsert with different tracked
    values; later upserts with the same tracked values update it in place (the latest values win). It
    ends at the sequence of the next event after its last upsert (a delete or the next version).
    """
    keys = [F.col(quote(k)) for k in plan.keys]
    by_key = Window.partitionBy(*keys).orderBy(F.col(SEQ))
    running = by_key.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    events = history.withColumn(_SEGMENT, F.sum(F.when(F.col(OP) == DELETE, 1).otherwise(0)).over(running))
    for column in sorted(plan.ignore_null_columns):
        # Partial updates: a NULL keeps the value from earlier upserts since the last delete.
        segment = (
            Window.partitionBy(*keys, F.col(_SEGMENT))
            .orderBy(F.col(SEQ))
            .rowsBetween(Window.unboundedPreceding, Window.currentRow)
        )
        events = events.withColumn(column, F.last(F.col(quote(column)), ignorenulls=True).over(segment))
    tracked = _tracked(plan)
    previous_tracked = F.lag(tracked).over(by_key)
    previous_op = F.lag(F.col(OP)).over(by_key)
    starts = (F.col(OP) == UPSERT) & (
        previous_op.isNull() | (previous_op == DELETE) | ~tracked.eqNullSafe(previous_tracked)
    )
    events = (
        events.withColumn(_START, F.when(starts, 1).otherwise(0))
        .withColumn(_NEXT, F.lead(F.col(SEQ)).over(by_key))
        .withColumn(_VERSION, F.sum(F.col(_START)).over(running))
    )
    values = plan.value_columns
    versions = (
        events.filter(F.col(OP) == UPSERT)
        .groupBy(*keys, F.col(_VERSION))
        .agg(
            F.min(F.col(SEQ)).alias(START_AT),
            F.max_by(F.col(_NEXT), F.col(SEQ)).alias(END_AT),
            F.max_by(F.struct(*[F.col(quote(c)) for c in values]), F.col(SEQ)).alias(_VALUES),
        )
    )
    return versions.select(
        *keys,
        *[F.col(f"{_VALUES}.{quote(c)}").alias(c) for c in values],
        F.col(START_AT),
        F.col(END_AT),
    )


def _tracked(plan: CdcPlan) -> Column:
    columns = [F.col(quote(c)) for c in plan.tracked_columns]
    return F.struct(*columns) if columns else F.struct(F.lit(True).alias("untracked"))


def _new_events(events: DataFrame, log: DataFrame, plan: CdcPlan) -> DataFrame:
    """One event per (keys, sequence) not already applied; at an equal sequence a delete wins."""
    keys = [F.col(quote(k)) for k in plan.keys]
    rank = F.row_number().over(
        Window.partitionBy(*keys, F.col(SEQ)).orderBy(op_rank().desc(), value_hash(plan.value_columns).desc())
    )
    deduplicated = events.withColumn(_RANK, rank).filter(F.col(_RANK) == 1).drop(_RANK)
    return deduplicated.join(log, on=_on(deduplicated, log, [*plan.keys, SEQ]), how="left_anti")


def _on(left: DataFrame, right: DataFrame, columns: list[str] | tuple[str, ...]) -> Column:
    condition: Column | None = None
    for column in columns:
        clause = left[quote(column)].eqNullSafe(right[quote(column)])
        condition = clause if condition is None else condition & clause
    assert condition is not None
    return condition


def _semi_join(frame: DataFrame, keys_frame: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    renamed = keys_frame.select(*[F.col(quote(k)).alias(f"__cdc_k_{i}") for i, k in enumerate(keys)])
    condition: Column | None = None
    for i, key in enumerate(keys):
        clause = frame[quote(key)].eqNullSafe(renamed[f"__cdc_k_{i}"])
        condition = clause if condition is None else condition & clause
    return frame.join(renamed, on=condition, how="left_semi")


def _merge_versions(spark: SparkSession, source: DataFrame, plan: CdcPlan, into: str) -> MergeCounts:
    compared = [*plan.value_columns, END_AT]
    unchanged = " AND ".join(f"t.{quote(c)} <=> s.{quote(c)}" for c in compared)
    assignments = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in compared)
    columns = [*plan.columns, START_AT, END_AT]
    return merge(
        spark,
        into,
        source,
        f"WHEN MATCHED AND s.{ACTION} = '{DELETE}' THEN DELETE "
        f"WHEN MATCHED AND s.{ACTION} = '{UPSERT}' AND NOT ({unchanged}) THEN UPDATE SET {assignments} "
        f"WHEN NOT MATCHED AND s.{ACTION} = '{UPSERT}' THEN INSERT ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(f's.{quote(c)}' for c in columns)})",
        null_safe_on([*plan.keys, START_AT]),
    )
