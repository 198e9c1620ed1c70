"""Turn a micro-batch into normalised change events, and check it as Databricks would.

An event is one row: the target columns, `__cdc_seq` (the sequence_by value) and `__cdc_op`
(U upsert, D delete, T truncate; a truncate wins over a delete when both conditions hold). The
events are materialised once (localCheckpoint) because each SCD applier reads them several times
and a streaming micro-batch must not be recomputed from its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from harness.cdc.model import DELETE, OP, SEQ, TRUNCATE, UPSERT, WHERE_OK
from harness.cdc.plan import CdcPlan
from harness.cdc.sql import quote
from harness.errors import FlowExecutionError


@dataclass(frozen=True)
class BatchCounts:
    rows: int
    null_sequences: int
    outside_where: int
    truncates: int


def _true(condition: Column | None) -> Column:
    """A condition that is FALSE (not NULL) when it does not hold."""
    return F.lit(False) if condition is None else F.coalesce(condition, F.lit(False))


def change_events(batch: DataFrame, plan: CdcPlan) -> tuple[DataFrame, BatchCounts]:
    """Normalised, materialised events of one micro-batch, and the counts used to check it.

    Raises FlowExecutionError for rows Databricks rejects at run time: a NULL sequence_by value, or
    (with `where`) a row outside the condition, which "cannot be used to drop source rows".
    """
    assert plan.sequence is not None
    op = F.when(_true(plan.truncate_when), F.lit(TRUNCATE)).when(_true(plan.delete_when), F.lit(DELETE))
    events = batch.select(
        *[F.col(quote(c)) for c in plan.columns],
        plan.sequence.alias(SEQ),
        op.otherwise(F.lit(UPSERT)).alias(OP),
        (_true(plan.where) if plan.where is not None else F.lit(True)).alias(WHERE_OK),
    ).localCheckpoint(eager=True)
    row = events.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col(SEQ).isNull()).alias("null_sequences"),
        F.count_if(~F.col(WHERE_OK)).alias("outside_where"),
        F.count_if(F.col(OP) == TRUNCATE).alias("truncates"),
    ).collect()[0]
    counts = BatchCounts(int(row.rows), int(row.null_sequences), int(row.outside_where), int(row.truncates))
    if counts.null_sequences:
        raise FlowExecutionError(
            plan.flow,
            f"{counts.null_sequences} change record(s) have a NULL sequence_by value; Databricks does not "
            "support NULL sequencing values. Fix or filter them upstream.",
        )
    if counts.outside_where:
        raise FlowExecutionError(
            plan.flow,
            f"{counts.outside_where} change record(s) do not satisfy the flow's `where` condition; `where` "
            "only narrows the merge and cannot be used to drop source rows. Filter them in the source view.",
        )
    return events.drop(WHERE_OK), counts


def op_rank(column: str = OP) -> Column:
    """Order of operations at an equal sequence value: a delete wins over an upsert (see docs/cdc.md)."""
    return F.when(F.col(column) == DELETE, F.lit(1)).otherwise(F.lit(0))


def value_hash(columns: tuple[str, ...]) -> Column:
    """A deterministic tie-breaker between distinct rows at the same key and sequence."""
    return F.xxhash64(*[F.col(quote(c)) for c in columns]) if columns else F.lit(0)
