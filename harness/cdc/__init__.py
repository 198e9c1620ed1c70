"""The AUTO CDC engine: Databricks' apply_changes / create_auto_cdc_flow and snapshot CDC on Delta.

Plain functions over DataFrames and Delta tables, called by the runner: `apply_changes_batch` from
`foreachBatch` for each micro-batch of a change feed, `run_snapshot_flow` once per update for a
snapshot flow. Semantics, state and the choices made where Databricks is silent: docs/cdc.md.
"""

from harness.cdc.apply import apply_changes_batch
from harness.cdc.model import END_AT, START_AT, CdcBatchMetrics, CdcTarget
from harness.cdc.plan import CdcPlan, cdc_target_schema, resolve_cdc_plan
from harness.cdc.snapshot import apply_snapshot, run_snapshot_flow

__all__ = [
    "END_AT",
    "START_AT",
    "CdcBatchMetrics",
    "CdcPlan",
    "CdcTarget",
    "apply_changes_batch",
    "apply_snapshot",
    "cdc_target_schema",
    "resolve_cdc_plan",
    "run_snapshot_flow",
]
