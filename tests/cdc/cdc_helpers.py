"""Spec builders and row readers shared by the AUTO CDC engine tests."""

from __future__ import annotations

from typing import Any

from harness.cdc import CdcTarget
from harness.shim.records import CdcFlowDef, SnapshotCdcFlowDef, SourceLocation

HERE = SourceLocation("tests/cdc", None)


def cdc_spec(**overrides: Any) -> CdcFlowDef:
    """A CdcFlowDef for the users example shape, with any field overridden."""
    fields: dict[str, Any] = {
        "name": "users_cdc",
        "target": "target",
        "source": "users",
        "keys": ("userId",),
        "sequence_by": "sequenceNum",
        "location": HERE,
    }
    fields.update(overrides)
    return CdcFlowDef(**fields)


def snapshot_spec(**overrides: Any) -> SnapshotCdcFlowDef:
    fields: dict[str, Any] = {"name": "snap", "target": "target", "keys": ("userId",), "location": HERE}
    fields.update(overrides)
    return SnapshotCdcFlowDef(**fields)


def rows(spark, target: CdcTarget) -> list[tuple]:
    """The target's rows as tuples, sorted by all columns (NULLs last)."""
    result = [tuple(r) for r in spark.table(target.table_name).collect()]
    return sorted(result, key=lambda r: tuple((v is None, v) for v in r))
