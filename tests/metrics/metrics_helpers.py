"""A tiny real pipeline for the metrics tests, and readers of the event log kept independent of the
code under test (plain `json.loads` over collected rows, no metric expressions).

The pipeline: `orders_bronze` (Auto Loader JSON from a volume), `orders_silver` (streaming, one
drop expectation and one warn expectation), `orders_quarantine` (the rows the drop rule rejects).
Two updates, one file each. Updates cost seconds, so the session fixture in conftest.py runs them
once for every test.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.postgres import PostgresInfo
from harness.state import StateLayout
from pipeline.metrics.config import CostSettings, RetryPolicy, SlaSettings

LANDING = "/Volumes/main/raw/landing/orders"

PIPELINE_CODE = f'''
import dlt


@dlt.table(comment="raw orders from JSON files")
def orders_bronze():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.schemaHints", "order_id STRING, amount DOUBLE, order_timestamp TIMESTAMP")
        .load("{LANDING}")
    )


@dlt.table
@dlt.expect_or_drop("positive_amount", "amount > 0")
@dlt.expect("has_order_id", "order_id IS NOT NULL")
def orders_silver():
    return dlt.read_stream("orders_bronze")


@dlt.table
def orders_quarantine():
    return dlt.read_stream("orders_bronze").where("NOT coalesce(amount > 0, false)")
'''

#: records per update: (order_id, amount); the drop rule rejects amount <= 0, the warn rule null ids
BATCHES: list[list[tuple[str | None, float]]] = [
    [("o-1", 10.0), ("o-2", -1.0), (None, 5.0), ("o-3", 7.5), ("o-4", 0.0)],
    [("o-5", 3.0), ("o-6", 4.0), ("o-7", -2.0)],
]


def write_pipeline(base: Path, name: str) -> tuple[Path, dict[str, Any]]:
    root = base / "src"
    root.mkdir(parents=True, exist_ok=True)
    (root / "pipeline.py").write_text(textwrap.dedent(PIPELINE_CODE), encoding="utf-8")
    settings = {
        "name": name,
        "catalog": "main",
        "schema": name,
        "libraries": [{"file": {"path": "pipeline.py"}}],
    }
    return root, settings


def land(directory: Path, index: int, records: list[tuple[str | None, float]]) -> None:
    """Write one batch file atomically (hidden temp name, then rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {"order_id": oid, "amount": amount, "order_timestamp": f"2026-01-0{index + 1}T10:00:0{i}Z"}
        )
        for i, (oid, amount) in enumerate(records)
    ]
    temp = directory / f".batch_{index}.tmp"
    temp.write_text("\n".join(lines) + "\n")
    os.utime(temp, (1_700_000_000 + index * 10, 1_700_000_000 + index * 10))
    temp.rename(directory / f"batch_{index}.json")


@dataclass(frozen=True)
class LoggedFlow:
    """What the event log says about one flow of one update (summed over its flow_progress events)."""

    status: str
    rows_out: int | None
    dropped: int
    files: int | None
    bytes: int | None
    expectations: dict[str, tuple[int, int]]


def flows_from_log(event_log: Any) -> dict[tuple[str, str], LoggedFlow]:
    """(update_id, flow_name) -> LoggedFlow, computed in plain Python from the raw event rows."""
    rows = (
        event_log.where("event_type = 'flow_progress'")
        .select("origin.update_id", "origin.flow_name", "sequence.data_plane_id.seq_no", "details")
        .collect()
    )
    acc: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {
            "status": None,
            "seq": -1,
            "rows": None,
            "dropped": 0,
            "files": None,
            "bytes": None,
            "exp": {},
        }
    )
    for r in rows:
        d = json.loads(r["details"])["flow_progress"]
        a = acc[(r["update_id"], r["flow_name"])]
        if r["seq_no"] > a["seq"]:
            a["seq"], a["status"] = r["seq_no"], d["status"]
        m = d.get("metrics") or {}
        if "num_output_rows" in m:
            a["rows"] = (a["rows"] or 0) + m["num_output_rows"]
        if "num_files_read" in m:
            a["files"] = (a["files"] or 0) + m["num_files_read"]
            a["bytes"] = (a["bytes"] or 0) + m["num_bytes_read"]
        q = d.get("data_quality") or {}
        a["dropped"] += q.get("dropped_records") or 0
        for e in q.get("expectations") or []:
            p, f = a["exp"].get(e["name"], (0, 0))
            a["exp"][e["name"]] = (p + e["passed_records"], f + e["failed_records"])
    return {
        k: LoggedFlow(v["status"], v["rows"], v["dropped"], v["files"], v["bytes"], dict(v["exp"]))
        for k, v in acc.items()
    }


@dataclass(frozen=True)
class PipelineRun:
    pipeline: Any
    results: list[Any]
    state: StateLayout

    @property
    def pipeline_id(self) -> str:
        return self.pipeline.settings.pipeline_id


def drop_schema(info: PostgresInfo, schema: str) -> None:
    conn = info.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        conn.close()


def table_counts(info: PostgresInfo, schema: str) -> dict[str, int]:
    conn = info.connect()
    try:
        with conn, conn.cursor() as cur:
            out = {}
            for table in (
                "pipeline_updates",
                "flow_metrics",
                "quality_metrics",
                "lineage_edges",
                "sla_status",
            ):
                cur.execute(f'SELECT count(*) FROM "{schema}".{table}')
                out[table] = cur.fetchone()[0]
            return out
    finally:
        conn.close()


def query(info: PostgresInfo, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = info.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def staging_for(run: PipelineRun, name: str) -> Any:
    from pipeline.metrics.staging import MetricsStaging

    return MetricsStaging(run.pipeline.spark, root=str(Path(run.state.root) / "metrics-tests" / name))


# --- shared staging of the session pipeline's metrics (see conftest.py `staged`) -------------------

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
COST = CostSettings(dbu_per_core_hour=0.75, usd_per_dbu=0.55)
SLA = SlaSettings(
    freshness_minutes={"orders_silver": 60.0, "orders_bronze": 180.0},
    max_update_duration_minutes=30.0,
    event_time_columns={"orders_bronze": "order_timestamp"},
)
FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait_s=0.05, max_wait_s=0.2, jitter_s=0.05)
METRIC_TABLES = ("pipeline_updates", "flow_metrics", "quality_metrics", "lineage_edges", "sla_status")


class Staged:
    """The session pipeline's metrics staged once in Delta; ``since(seq)`` is an exporter's input."""

    def __init__(self, run: PipelineRun) -> None:
        self.run = run
        self.staging = staging_for(run, "shared")
        tables = {name: run.pipeline.table(name) for name in SLA.freshness_minutes}
        self.added = self.staging.stage(
            run.pipeline.event_log(),
            pipeline_id=run.pipeline_id,
            cost=COST,
            sla=SLA,
            now=NOW,
            cores=2,
            tables=tables,
        )
        self.rows = self.staging.rows_since(run.pipeline_id, 0)

    def since(self, seq: int) -> dict[str, list[dict[str, Any]]]:
        return {t: [r for r in rs if int(r["update_seq"]) > seq] for t, rs in self.rows.items()}

    @property
    def newest_seq(self) -> int:
        return max(int(u["update_seq"]) for u in self.rows["pipeline_updates"])

    def natural_keys(self) -> dict[str, set[tuple[Any, ...]]]:
        """table -> the natural keys PostgreSQL must hold after a complete export (one row each)."""
        from pipeline.metrics.pipeline_metrics import NATURAL_KEYS

        return {t: {tuple(r[c] for c in NATURAL_KEYS[t]) for r in self.rows[t]} for t in METRIC_TABLES}


def assert_exported_once(info: PostgresInfo, schema: str, staged: Staged) -> None:
    """PostgreSQL holds exactly the staged rows (by natural key, no duplicates, no extras), the
    watermark is the newest staged update, and no dead letter is pending."""
    from pipeline.metrics.pipeline_metrics import NATURAL_KEYS

    expected = staged.natural_keys()
    for table in METRIC_TABLES:
        keys = query(info, f'SELECT {", ".join(NATURAL_KEYS[table])} FROM "{schema}".{table}')
        assert len(keys) == len(set(keys)), f"{table}: duplicate rows"
        assert set(keys) == expected[table], table
    assert query(info, f'SELECT last_seq FROM "{schema}".export_watermarks') == [(staged.newest_seq,)]
    assert query(info, f'SELECT count(*) FROM "{schema}".dead_letters WHERE redriven_at IS NULL') == [(0,)]
