"""SCD type 1: the target keeps the latest row per key, ordered by sequence_by, across batches.

The target holds only user columns, so the ordering state lives beside it (state_path/scd1_keys):
the latest applied sequence per key and whether that event was a delete (a tombstone). An event
not newer than that state is stale and dropped, which makes late events harmless and a replayed
batch a no-op. A truncate is remembered as a watermark (scd1_truncate): events at or before it are
dropped even for keys never seen. Per batch: [truncate MERGE], one target MERGE, one state MERGE;
the target is written before the state so that a crash in between is repaired by the replay.
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, StructField, StructType

from harness.cdc.events import op_rank, value_hash
from harness.cdc.model import DELETE, DELETED, FRESH, OP, SEQ, TRUNCATE, UPSERT, CdcTarget, MergeCounts
from harness.cdc.plan import CdcPlan
from harness.cdc.sql import ensure_path_table, merge, null_safe_on, path_table, quote, quote_table
from harness.cdc.state import SCD1_KEYS, SCD1_TRUNCATE, table_path

_LAST_DELETE = "__cdc_last_delete"
_LATEST = "__cdc_latest"
_STATE_SEQ = "__cdc_state_seq"
_WATERMARK = "__cdc_watermark"


def apply_scd1(
    spark: SparkSession, events: DataFrame, plan: CdcPlan, target: CdcTarget, has_truncate: bool
) -> MergeCounts:
    """Apply one batch of normalised events (see harness.cdc.events) to an SCD1 target."""
    keys_path = table_path(target.state_path, SCD1_KEYS)
    key_fields = [plan.source_schema[k] for k in plan.keys]
    ensure_path_table(
        spark,
        keys_path,
        StructType(
            [StructField(f.name, f.dataType, True) for f in key_fields]
            + [StructField(SEQ, plan.sequence_type, True), StructField(DELETED, BooleanType(), True)]
        ),
    )
    counts = MergeCounts()
    if has_truncate:
        counts += _truncate(spark, events, plan, target)
    changes = latest_changes(spark, events, plan, target).localCheckpoint(eager=True)
    if changes.isEmpty():  # every event was stale: a replay, or late events only
        return counts
    counts += merge_latest(spark, changes, plan, quote_table(target.table_name))
    merge(
        spark,
        path_table(keys_path),
        changes.select(
            *[F.col(quote(k)) for k in plan.keys], F.col(SEQ), (F.col(OP) == DELETE).alias(DELETED)
        ),
        f"WHEN MATCHED THEN UPDATE SET {quote(SEQ)} = s.{quote(SEQ)}, {quote(DELETED)} = s.{quote(DELETED)} "
        "WHEN NOT MATCHED THEN INSERT *",
        null_safe_on(plan.keys),
    )
    return counts


def latest_changes(spark: SparkSession, events: DataFrame, plan: CdcPlan, target: CdcTarget) -> DataFrame:
    """One row per key: the net effect of the batch's non-stale events on that key.

    Columns: keys, value columns, __cdc_seq (latest), __cdc_op (U or D), __cdc_fresh (a delete in this
    batch precedes the final upsert, so null-ignoring columns must not fall back to the old row).
    """
    keys = [F.col(quote(k)) for k in plan.keys]
    values = plan.value_columns
    fresh_events = _drop_stale(spark, events.filter(F.col(OP) != TRUNCATE), plan, target)
    with_last_delete = fresh_events.withColumn(
        _LAST_DELETE, F.max(F.when(F.col(OP) == DELETE, F.col(SEQ))).over(Window.partitionBy(*keys))
    )
    order = F.struct(F.col(SEQ), op_rank(), value_hash(values))
    aggregates: list[Column] = [
        F.max(F.col(SEQ)).alias(SEQ),
        F.max_by(F.struct(F.col(OP), *[F.col(quote(c)) for c in values]), order).alias(_LATEST),
        F.max(F.col(_LAST_DELETE)).isNotNull().alias(FRESH),
    ]
    for column in sorted(plan.ignore_null_columns):
        usable = (
            (F.col(OP) == UPSERT)
            & F.col(quote(column)).isNotNull()
            & (F.col(_LAST_DELETE).isNull() | (F.col(SEQ) > F.col(_LAST_DELETE)))
        )
        # Last non-NULL value since the batch's last delete: partial updates fold in sequence order.
        aggregates.append(F.max_by(F.col(quote(column)), F.when(usable, order)).alias(_nn(column)))
    reduced = with_last_delete.groupBy(*keys).agg(*aggregates)
    return reduced.select(
        *keys,
        *[
            (F.col(quote(_nn(c))) if c in plan.ignore_null_columns else F.col(f"{_LATEST}.{quote(c)}")).alias(
                c
            )
            for c in values
        ],
        F.col(SEQ),
        F.col(f"{_LATEST}.{OP}").alias(OP),
        F.col(FRESH),
    )


def merge_latest(spark: SparkSession, changes: DataFrame, plan: CdcPlan, into: str) -> MergeCounts:
    """MERGE per-key net changes into an SCD1 table: delete, update (null-ignoring where asked) or insert."""
    assignments = [
        f"{quote(c)} = CASE WHEN s.{FRESH} THEN s.{quote(c)} ELSE coalesce(s.{quote(c)}, t.{quote(c)}) END"
        if c in plan.ignore_null_columns
        else f"{quote(c)} = s.{quote(c)}"
        for c in plan.value_columns
    ] or [f"{quote(k)} = s.{quote(k)}" for k in plan.keys]
    columns = ", ".join(quote(c) for c in plan.columns)
    values = ", ".join(f"s.{quote(c)}" for c in plan.columns)
    return merge(
        spark,
        into,
        changes,
        f"WHEN MATCHED AND s.{OP} = '{DELETE}' THEN DELETE "
        f"WHEN MATCHED AND s.{OP} = '{UPSERT}' THEN UPDATE SET {', '.join(assignments)} "
        f"WHEN NOT MATCHED AND s.{OP} = '{UPSERT}' THEN INSERT ({columns}) VALUES ({values})",
        null_safe_on(plan.keys),
    )


def _drop_stale(spark: SparkSession, events: DataFrame, plan: CdcPlan, target: CdcTarget) -> DataFrame:
    """Keep events newer than the key's applied sequence and than the latest truncate."""
    truncate_path = table_path(target.state_path, SCD1_TRUNCATE)
    if DeltaTable.isDeltaTable(spark, truncate_path):
        watermark = spark.read.format("delta").load(truncate_path).select(F.col(SEQ).alias(_WATERMARK))
        events = (
            events.crossJoin(F.broadcast(watermark))
            .filter(F.col(_WATERMARK).isNull() | (F.col(SEQ) > F.col(_WATERMARK)))
            .drop(_WATERMARK)
        )
    state = spark.read.format("delta").load(table_path(target.state_path, SCD1_KEYS))
    state = state.select(
        *[F.col(quote(k)).alias(_state_key(k)) for k in plan.keys], F.col(SEQ).alias(_STATE_SEQ)
    )
    condition = None
    for key in plan.keys:
        clause = events[quote(key)].eqNullSafe(state[_state_key(key)])
        condition = clause if condition is None else condition & clause
    joined = events.join(state, on=condition, how="left")
    return joined.filter(F.col(_STATE_SEQ).isNull() | (F.col(SEQ) > F.col(_STATE_SEQ))).select(
        *events.columns
    )


def _truncate(spark: SparkSession, events: DataFrame, plan: CdcPlan, target: CdcTarget) -> MergeCounts:
    """Empty the target as of the batch's latest truncate: rows whose applied sequence is newer survive."""
    truncate_at = (
        events.filter(F.col(OP) == TRUNCATE).agg(F.max(F.col(SEQ)).alias(SEQ)).localCheckpoint(eager=True)
    )
    keys_path = table_path(target.state_path, SCD1_KEYS)
    state = spark.read.format("delta").load(keys_path)
    survivors = (
        state.crossJoin(truncate_at.select(F.col(SEQ).alias(_WATERMARK)))
        .filter(~F.col(DELETED) & (F.col(SEQ) > F.col(_WATERMARK)))
        .select(*[F.col(quote(k)) for k in plan.keys])
        .localCheckpoint(eager=True)
    )
    counts = merge(
        spark,
        quote_table(target.table_name),
        survivors,
        "WHEN NOT MATCHED BY SOURCE THEN DELETE",
        null_safe_on(plan.keys),
    )
    merge(
        spark,
        path_table(keys_path),
        truncate_at,
        f"WHEN MATCHED THEN UPDATE SET {quote(DELETED)} = TRUE, {quote(SEQ)} = s.{quote(SEQ)}",
        f"t.{quote(SEQ)} <= s.{quote(SEQ)} AND NOT t.{quote(DELETED)}",
    )
    truncate_path = table_path(target.state_path, SCD1_TRUNCATE)
    watermark = truncate_at
    if DeltaTable.isDeltaTable(spark, truncate_path):
        watermark = watermark.unionByName(spark.read.format("delta").load(truncate_path))
    watermark = watermark.agg(F.max(F.col(SEQ)).alias(SEQ)).localCheckpoint(eager=True)
    watermark.write.format("delta").mode("overwrite").save(truncate_path)
    return counts


def _nn(column: str) -> str:
    return f"__cdc_nn_{column}"


def _state_key(key: str) -> str:
    return f"__cdc_state_{key}"
