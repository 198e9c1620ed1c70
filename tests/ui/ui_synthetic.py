"""A hand-written event log in Delta's on-disk format, for JVM-free tests of the page's reader.

Files are what Delta writes (parquet data files, one JSON commit per version, a classic parquet
checkpoint); the rows follow harness/runtime/event_log.py's columns. The Spark tests check the same
reader against tables Delta itself wrote.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

_ORIGIN = pa.struct(
    [(name, pa.string()) for name in ("pipeline_name", "update_id", "flow_name", "dataset_name")]
)
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        (
            "sequence",
            pa.struct([("data_plane_id", pa.struct([("instance", pa.string()), ("seq_no", pa.int64())]))]),
        ),
        ("origin", _ORIGIN),
        ("timestamp", pa.timestamp("us")),
        ("message", pa.string()),
        ("level", pa.string()),
        ("error", pa.string()),
        ("details", pa.string()),
        ("event_type", pa.string()),
    ]
)


class EventLogWriter:
    """Appends events to a Delta table at `path`, one commit per `commit()` call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log = path / "_delta_log"
        self.log.mkdir(parents=True, exist_ok=True)
        self.version = -1
        self.seq = 0
        self.pending: list[dict[str, Any]] = []
        self.live: list[str] = []

    def event(
        self,
        event_type: str,
        details: dict[str, Any],
        *,
        update: str,
        seconds: float,
        level: str = "INFO",
        flow: str | None = None,
        dataset: str | None = None,
        message: str = "",
        error: dict[str, Any] | None = None,
    ) -> None:
        self.seq += 1
        self.pending.append(
            {
                "id": str(uuid.uuid4()),
                "sequence": {"data_plane_id": {"instance": "test", "seq_no": self.seq}},
                "origin": {
                    "pipeline_name": "synthetic",
                    "update_id": update,
                    "flow_name": flow,
                    "dataset_name": dataset,
                },
                "timestamp": (T0 + timedelta(seconds=seconds)).replace(tzinfo=None),
                "message": message or f"{event_type} {flow or ''}",
                "level": level,
                "error": json.dumps(error) if error else None,
                "details": json.dumps({event_type: details}),
                "event_type": event_type,
            }
        )

    def _write(self, actions: list[dict[str, Any]]) -> None:
        self.version += 1
        text = "\n".join(json.dumps(a) for a in actions) + "\n"
        (self.log / f"{self.version:020d}.json").write_text(text)

    def commit(self) -> None:
        actions: list[dict[str, Any]] = []
        if self.version < 0:
            actions += [
                {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
                {
                    "metaData": {
                        "id": "x",
                        "format": {"provider": "parquet", "options": {}},
                        "schemaString": "{}",
                        "partitionColumns": [],
                        "configuration": {},
                    }
                },
            ]
        if self.pending:
            name = f"part-{self.version + 1:05d}-{uuid.uuid4()}.snappy.parquet"
            pq.write_table(pa.Table.from_pylist(self.pending, schema=SCHEMA), self.path / name)
            self.pending = []
            self.live.append(name)
            actions.append({"add": {"path": name, "size": 1, "modificationTime": 0, "dataChange": True}})
        self._write(actions)

    def compact(self) -> None:
        """What OPTIMIZE does: one new file with every row, the old ones removed."""
        table = pa.concat_tables([pq.read_table(self.path / n) for n in self.live])
        name = f"part-compacted-{uuid.uuid4()}.snappy.parquet"
        pq.write_table(table, self.path / name)
        actions = [{"remove": {"path": n, "dataChange": False}} for n in self.live]
        actions.append({"add": {"path": name, "size": 1, "modificationTime": 0, "dataChange": False}})
        self.live = [name]
        self._write(actions)

    def checkpoint(self) -> None:
        """A classic single-file checkpoint of the current version (only live adds, as Delta keeps)."""
        add = pa.struct(
            [
                ("path", pa.string()),
                ("size", pa.int64()),
                ("deletionVector", pa.struct([("storageType", pa.string())])),
            ]
        )
        protocol = pa.struct([("minReaderVersion", pa.int32()), ("minWriterVersion", pa.int32())])
        rows = [{"add": None, "protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}]
        rows += [{"add": {"path": n, "size": 1, "deletionVector": None}, "protocol": None} for n in self.live]
        table = pa.Table.from_pylist(rows, schema=pa.schema([("add", add), ("protocol", protocol)]))
        pq.write_table(table, self.log / f"{self.version:020d}.checkpoint.parquet")


def start_update(writer: EventLogWriter, update: str, start: float, *, full: bool, secret: str) -> None:
    """create_update, the set-up phases and the graph's definitions (bronze -> silver -> gold)."""
    writer.event(
        "create_update",
        {
            "cause": "USER_ACTION",
            "full_refresh": full,
            "refresh_selection": [],
            "full_refresh_selection": [],
            "config": {"configuration": {"db.password": secret, "region": "eu"}},
        },
        update=update,
        seconds=start,
    )
    for offset, state in ((0, "QUEUED"), (0.5, "INITIALIZING"), (1, "SETTING_UP_TABLES")):
        writer.event("update_progress", {"state": state}, update=update, seconds=start + offset)
    for name, kind in (
        ("bronze", "STREAMING_TABLE"),
        ("silver", "STREAMING_TABLE"),
        ("gold", "MATERIALIZED_VIEW"),
    ):
        writer.event(
            "dataset_definition",
            {"dataset_name": name, "dataset_type": kind},
            update=update,
            seconds=start + 2,
            dataset=name,
        )
    for name, inputs in (("bronze", []), ("silver", ["bronze"]), ("gold", ["silver"])):
        writer.event(
            "flow_definition",
            {"output_dataset": name, "input_datasets": inputs},
            update=update,
            seconds=start + 2,
            flow=name,
            dataset=name,
        )
    writer.event("update_progress", {"state": "RUNNING"}, update=update, seconds=start + 5)


def completed_flow(
    writer: EventLogWriter, update: str, at: float, flow: str, rows: int, **quality: Any
) -> None:
    writer.event("flow_progress", {"status": "RUNNING"}, update=update, seconds=at, flow=flow, dataset=flow)
    details: dict[str, Any] = {
        "status": "COMPLETED",
        "metrics": {"num_output_rows": rows, "num_files_read": 2},
        "duration_ms": 1500,
    }
    if quality:
        details["data_quality"] = {
            "dropped_records": quality["dropped"],
            "expectations": [
                {"name": n, "dataset": flow, "passed_records": p, "failed_records": f}
                for n, (p, f) in quality["expectations"].items()
            ],
        }
    writer.event(
        "flow_progress", details, update=update, seconds=at + 1.5, flow=flow, dataset=flow, level="METRICS"
    )


A = "aaaaaaaa-0000-0000-0000-000000000001"
B = "bbbbbbbb-0000-0000-0000-000000000002"


def two_updates(writer: EventLogWriter, *, secret: str = "hunter2-secret") -> None:
    """Update A (full refresh) completes; update B fails in silver (its error quotes the secret)."""
    start_update(writer, A, 0, full=True, secret=secret)
    writer.commit()
    completed_flow(writer, A, 6, "bronze", 10)
    completed_flow(writer, A, 8, "silver", 8, dropped=2, expectations={"valid_id": (8, 2)})
    completed_flow(writer, A, 10, "gold", 3)
    writer.event("update_progress", {"state": "COMPLETED"}, update=A, seconds=12)
    writer.commit()
    start_update(writer, B, 100, full=False, secret=secret)
    completed_flow(writer, B, 106, "bronze", 4)
    writer.event(
        "flow_progress", {"status": "RUNNING"}, update=B, seconds=108, flow="silver", dataset="silver"
    )
    error = {
        "fatal": True,
        "exceptions": [
            {"class_name": "ExpectationViolationError", "message": f"bad row (password {secret})"}
        ],
    }
    writer.event(
        "flow_progress",
        {"status": "FAILED"},
        update=B,
        seconds=109,
        flow="silver",
        dataset="silver",
        level="ERROR",
        error=error,
        message='Flow "silver" has FAILED',
    )
    writer.event("flow_progress", {"status": "SKIPPED"}, update=B, seconds=109, flow="gold", dataset="gold")
    writer.event("update_progress", {"state": "FAILED"}, update=B, seconds=110, level="ERROR", error=error)
    writer.commit()
