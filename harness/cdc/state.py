"""What the engine keeps under a target's `state_path`, and the small JSON records among it.

Layout (see docs/cdc.md):
  scd1_keys/        Delta: keys, __cdc_seq, __cdc_deleted  (latest sequence per key; tombstones)
  scd1_truncate/    Delta: __cdc_seq                       (latest truncate, SCD1 only)
  scd2_events/      Delta: keys, values, __cdc_seq, __cdc_op (every applied change event, SCD2)
  batches/<flow>.json   last committed micro-batch id of a flow and its metrics (replay guard)
  snapshot/<flow>.json  latest processed snapshot version of a snapshot flow

JSON files are written to a temporary name and renamed, so a crash never leaves half a record.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.cdc.model import CdcBatchMetrics

SCD1_KEYS = "scd1_keys"
SCD1_TRUNCATE = "scd1_truncate"
SCD2_EVENTS = "scd2_events"


def table_path(state_path: str, name: str) -> str:
    return str(Path(state_path) / name)


def _file_name(flow: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", flow) + ".json"


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, sort_keys=True))
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


# --- micro-batch ledger -------------------------------------------------------------------------------


def committed_batch(state_path: str, flow: str) -> tuple[int, CdcBatchMetrics] | None:
    """The last micro-batch this flow fully applied, with its metrics, or None."""
    record = _read_json(Path(state_path) / "batches" / _file_name(flow))
    if record is None:
        return None
    return int(record["batch_id"]), CdcBatchMetrics(**record["metrics"])


def commit_batch(state_path: str, flow: str, batch_id: int, metrics: CdcBatchMetrics) -> None:
    _write_json(
        Path(state_path) / "batches" / _file_name(flow), {"batch_id": batch_id, "metrics": metrics.as_dict()}
    )


# --- snapshot versions ----------------------------------------------------------------------------------


def encode_version(version: Any) -> dict[str, Any]:
    """A snapshot version as JSON with its type, so it comes back as the same Python value."""
    if isinstance(version, bool):
        raise TypeError("a snapshot version cannot be a bool")
    if isinstance(version, int):
        return {"type": "int", "value": version}
    if isinstance(version, Decimal):
        return {"type": "decimal", "value": str(version)}
    if isinstance(version, float):
        return {"type": "float", "value": version}
    if isinstance(version, str):
        return {"type": "str", "value": version}
    if isinstance(version, dt.datetime):
        return {"type": "datetime", "value": version.isoformat()}
    if isinstance(version, dt.date):
        return {"type": "date", "value": version.isoformat()}
    raise TypeError(f"unsupported snapshot version type {type(version).__name__}")


def decode_version(record: dict[str, Any]) -> Any:
    kind, value = record["type"], record["value"]
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    return {"int": int, "float": float, "str": str}[kind](value)


def latest_snapshot_version(state_path: str, flow: str) -> Any | None:
    record = _read_json(Path(state_path) / "snapshot" / _file_name(flow))
    return None if record is None else decode_version(record)


def record_snapshot_version(state_path: str, flow: str, version: Any) -> None:
    _write_json(Path(state_path) / "snapshot" / _file_name(flow), encode_version(version))
