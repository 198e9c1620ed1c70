"""The e2e job: simulate -> one triggered update per batch -> quality -> export -> reconcile -> report.

Everything runs in one process on one SparkSession (the JVM starts once), in a fresh state
directory, against the PostgreSQL the provider chain gives. Any mismatch is collected (table, key,
expected, actual) and makes the job fail after the report is written, so a failing run still
leaves its evidence behind.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.e2e.options import E2EOptions
from harness.e2e.steps import PeakMemory, StepLog
from harness.errors import HarnessError


class E2EMismatchError(HarnessError):
    """Raised when the e2e reconciliation finds differences (the report lists every one)."""

    def __init__(self, mismatches: list[dict[str, Any]], report: str) -> None:
        first = mismatches[0]
        super().__init__(
            f"{len(mismatches)} reconciliation mismatch(es); first: table {first.get('table')!r}, "
            f"key {first.get('key')!r}: expected {first.get('expected')!r}, got {first.get('actual')!r}. "
            f"Report: {report}",
            count=len(mismatches),
            report=report,
        )


class E2EUpdateFailedError(HarnessError):
    """Raised when a pipeline update of the e2e job fails (the report is still written)."""

    def __init__(self, batch: int, error: str, report: str) -> None:
        super().__init__(
            f"the pipeline update after batch {batch} failed: {error}. Report: {report}",
            batch=batch,
            report=report,
        )


class E2EStageError(HarnessError):
    """Raised when an e2e stage (quality, export, reconcile) itself fails (the report is still written)."""

    def __init__(self, stage: str, error: BaseException, report: str) -> None:
        super().__init__(
            f"e2e stage {stage!r} failed: {type(error).__name__}: {error}. Report: {report}",
            stage=stage,
            report=report,
        )


@dataclass
class E2EOutcome:
    """What the report is made of (also written as summary.json)."""

    options: dict[str, Any]
    environment: dict[str, Any]
    batches: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, int] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    peak_memory_mb: float = 0.0
    total_seconds: float = 0.0
    status: str = "RUNNING"


def environment_facts() -> dict[str, Any]:
    versions = {}
    for name in ("pyspark", "delta-spark", "great-expectations", "faker", "psycopg2-binary"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
    }


def _update_record(batch: int, result: Any) -> dict[str, Any]:
    return {
        "batch": batch,
        "update_id": result.update_id,
        "status": result.status,
        "seconds": round(result.duration_s, 2),
        "error": result.error,
        "flows": {
            name: {
                "status": f.status,
                "rows": f.num_output_rows,
                "dropped": f.dropped_records,
                "upserted": f.num_upserted_rows,
                "deleted": f.num_deleted_rows,
                "files": f.num_files,
                "seconds": round(f.duration_s, 2),
            }
            for name, f in result.flows.items()
        },
    }


def run_e2e(options: E2EOptions, log: StepLog | None = None) -> E2EOutcome:
    """Run the whole flow; returns the outcome or raises after writing the report."""
    from harness.e2e import stages
    from harness.e2e.report import write_report

    log = log or StepLog()
    outcome = E2EOutcome(
        options={k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        environment=environment_facts(),
    )
    options.state.mkdir(parents=True, exist_ok=True)
    log.say(f"state directory: {options.state}")
    failure: HarnessError | None = None
    with PeakMemory() as memory, stages.postgres(options, log) as pg:
        with log.step("start Spark + Delta"):
            pipeline = stages.local_pipeline(options)
        simulator = stages.simulator(options, pipeline)
        manifest: dict[str, Any] = {}
        for batch in range(1, options.batches + 1):
            with log.step(f"batch {batch}/{options.batches}: simulate") as step:
                produced = simulator.next_batch()
                manifest = produced.manifest
                step.detail = {"new_orders": produced.new_orders, "order_lines": produced.order_lines}
                outcome.batches.append(
                    {
                        "batch": batch,
                        "new_orders": produced.new_orders,
                        "order_lines": produced.order_lines,
                        "customer_lines": produced.customer_lines,
                        "files": len(produced.files),
                        "seconds": round(produced.seconds, 2),
                    }
                )
            with log.step(f"batch {batch}/{options.batches}: pipeline update"):
                result = pipeline.run()
                outcome.updates.append(_update_record(batch, result))
            if not result.succeeded:
                failure = E2EUpdateFailedError(batch, result.error or "unknown", str(options.report_dir))
                break
        if failure is None:
            try:
                with log.step("quality suites"):
                    outcome.quality = stages.quality(options, pipeline)
                with log.step("export metrics to PostgreSQL"):
                    outcome.export = stages.export(options, pipeline, pg)
                with log.step("reconcile"):
                    mismatches, checks = stages.reconcile(
                        options, pipeline, pg, manifest, outcome.export, outcome.quality
                    )
                    outcome.mismatches, outcome.checks = mismatches, checks
                    log.say(f"{sum(checks.values())} values compared, {len(mismatches)} mismatch(es)")
            except Exception as exc:  # the report is still written, with the failed step marked
                failure = E2EStageError(log.records[-1].name, exc, str(options.report_dir))
        outcome.peak_memory_mb = round(memory.peak_bytes / 2**20, 1)
        outcome.total_seconds = round(time.monotonic() - log.started, 1)
        if failure is None and outcome.mismatches:
            failure = E2EMismatchError(outcome.mismatches, str(options.report_dir))
        outcome.status = "FAILED" if failure is not None else "PASSED"
        with log.step("report"):  # while PostgreSQL is up: the dashboard panels are queried
            outcome.steps = [
                {"name": s.name, "seconds": round(s.seconds, 2), "status": s.status} for s in log.records
            ]
            report = write_report(options, outcome, pipeline, connect=pg.connect)
    log.say(f"report: {report}")
    log.say(f"summary: {options.report_dir / 'summary.json'}")
    if failure is not None:
        raise failure
    return outcome


def summary_json(outcome: E2EOutcome) -> str:
    return json.dumps(asdict(outcome), indent=2, sort_keys=True, default=str)
