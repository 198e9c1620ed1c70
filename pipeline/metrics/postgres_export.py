"""Export staged metrics to PostgreSQL: incremental, idempotent, batched, retried, dead-lettered.

* **Incremental.** ``export_watermarks.last_seq`` (PostgreSQL side) is the newest ``update_seq``
  exported for a pipeline; an export reads only staged rows above it.
* **Exactly once.** A batch (the metric rows of up to ``batch_updates`` updates) is written in ONE
  transaction together with the watermark advance: both or neither. Rows are upserted on their
  natural keys (``INSERT ... ON CONFLICT ... DO UPDATE ... WHERE row IS DISTINCT FROM EXCLUDED``), so a
  replay (a crash after commit, a re-drive) changes nothing.
* **Batched** with ``psycopg2.extras.execute_values`` (one multi-row INSERT per table per batch).
* **Retried** with tenacity: exponential backoff plus jitter, only on transient errors (connection
  refused or lost, serialization failures, deadlocks, timeouts, server shutting down).
* **Dead letters.** A batch that still fails is written as JSON to ``<dead_letter_dir>/<pipeline>/``
  (the database may be what failed) and recorded in ``dead_letters`` when the database answers. After a
  transient failure the export stops (later batches stay above the watermark for the next run);
  after a permanent one (bad data) it goes on with the next batch. `PostgresExporter.redrive` replays
  the files and marks them re-driven in the same transaction as their rows.

This module runs the export; its parts live next to it: `batches` (the batch model and upsert SQL),
`connection` (connections and retries), `failures` (which errors are transient, which stop an
export), `dead_letters` (the dead-letter files and rows).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.config.model import RetryPolicy
from pipeline.metrics.batches import WRITE_ORDER, Batch, dedupe, make_batches, upsert_sql
from pipeline.metrics.connection import RetryingConnection, describe_target
from pipeline.metrics.dead_letters import DeadLetterQueue, mark_redriven, record_in_postgres
from pipeline.metrics.failures import stops_export
from pipeline.metrics.identifiers import check_identifier, quote_ident
from pipeline.metrics.migrate import apply_migrations, pending_migrations

__all__ = ["STREAM", "ExportReport", "PostgresExporter"]

log = logging.getLogger(__name__)

STREAM = "event_log"


@dataclass
class ExportReport:
    """What one export (or re-drive) did; counts are rows inserted / updated in PostgreSQL."""

    pipeline_id: str
    watermark_before: int = 0
    watermark_after: int = 0
    batches: int = 0
    updates: list[str] = field(default_factory=list)
    inserted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WRITE_ORDER, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WRITE_ORDER, 0))
    attempts: int = 0
    dead_letters: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.dead_letters and self.error is None


class PostgresExporter:
    """Writes metric batches to ``schema`` through connections from ``connect`` (a zero-argument
    callable returning a psycopg2 connection: the export config's settings on Databricks, the
    harness's provider chain locally). ``target`` (``user@host:port/database``) names the server in
    logs and errors; by default `describe_target` works it out from ``connect``."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        schema: str,
        dead_letter_dir: str | os.PathLike[str],
        retry: RetryPolicy | None = None,
        batch_updates: int = 20,
        statement_timeout_ms: int = 60_000,
        on_batch_committed: Callable[[Batch], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        target: str | None = None,
    ) -> None:
        self.schema = check_identifier("export.schema", schema)
        self.retry = retry or RetryPolicy()
        #: ``user@host:port/database`` in every error and log line (never the password)
        self.target = target or describe_target(connect) or "PostgreSQL"
        self.connection = RetryingConnection(connect, self.retry, self.target)
        self.dead_letters = DeadLetterQueue(dead_letter_dir, clock)
        self.dead_letter_dir = Path(dead_letter_dir)
        self.batch_updates = batch_updates
        self.statement_timeout_ms = statement_timeout_ms
        self.on_batch_committed = on_batch_committed
        self._migrated = False

    @property
    def last_attempts(self) -> int:
        return self.connection.last_attempts

    def close(self) -> None:
        self.connection.close()

    def error_text(self, exc: BaseException) -> str:
        return self.connection.error_text(exc)

    # --- schema and watermark ----------------------------------------------------------------------
    def ensure_schema(self) -> list[int]:
        """Apply pending migrations (once per exporter); returns the versions applied now."""
        if self._migrated:
            return []

        def migrate(conn: Any) -> list[int]:
            # read-only check first: a least-privilege role cannot run DDL, even CREATE ... IF NOT EXISTS
            if not pending_migrations(conn, self.schema):
                return []
            return apply_migrations(conn, self.schema)

        applied, _ = self.connection.run("migrating the schema", migrate)
        self._migrated = True
        return applied

    def watermark(self, pipeline_id: str) -> int:
        def read(conn: Any) -> int:
            with conn, conn.cursor() as cur:
                cur.execute(
                    f"SELECT last_seq FROM {quote_ident(self.schema, 'export.schema')}.export_watermarks "
                    "WHERE pipeline_id = %s AND stream = %s",
                    (pipeline_id, STREAM),
                )
                row = cur.fetchone()
                return int(row[0]) if row else 0

        value, _ = self.connection.run("reading the watermark", read)
        return value

    def local_watermark(self, pipeline_id: str) -> int:
        return self.dead_letters.watermark(pipeline_id)

    # --- writing one batch ------------------------------------------------------------------------
    def _write(
        self, conn: Any, batch: Batch, redriven: Mapping[str, Any] | None = None
    ) -> dict[str, tuple[int, int]]:
        from psycopg2.extras import execute_values

        counts: dict[str, tuple[int, int]] = {}
        with conn, conn.cursor() as cur:
            cur.execute(f"SET LOCAL statement_timeout = {int(self.statement_timeout_ms)}")
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"metrics-export:{batch.pipeline_id}",)
            )
            for table in WRITE_ORDER:
                rows = dedupe(table, batch.rows.get(table, ()))
                if not rows:
                    counts[table] = (0, 0)
                    continue
                sql, columns = upsert_sql(self.schema, table)
                result = execute_values(
                    cur, sql, [tuple(r.get(c) for c in columns) for r in rows], page_size=1000, fetch=True
                )
                inserted = sum(1 for (flag,) in result if flag)
                counts[table] = (inserted, len(result) - inserted)
            cur.execute(
                f"INSERT INTO {quote_ident(self.schema, 'export.schema')}.export_watermarks AS w "
                "(pipeline_id, stream, last_seq, last_update_id, batches) "
                "VALUES (%s, %s, %s, %s, 1) ON CONFLICT (pipeline_id, stream) DO UPDATE SET "
                "last_seq = GREATEST(w.last_seq, EXCLUDED.last_seq), "
                "last_update_id = CASE WHEN EXCLUDED.last_seq >= w.last_seq THEN EXCLUDED.last_update_id ELSE w.last_update_id END, "
                "batches = w.batches + 1, updated_at = now()",
                (
                    batch.pipeline_id,
                    STREAM,
                    batch.last_seq,
                    batch.update_ids[-1] if batch.update_ids else None,
                ),
            )
            if redriven is not None:
                mark_redriven(cur, self.schema, batch, redriven)
        return counts

    def _commit_batch(
        self, batch: Batch, report: ExportReport, redriven: Mapping[str, Any] | None = None
    ) -> None:
        counts, attempts = self.connection.run(
            f"writing batch {batch.batch_id}", lambda conn: self._write(conn, batch, redriven)
        )
        report.attempts += attempts
        report.batches += 1
        report.updates.extend(batch.update_ids)
        report.watermark_after = max(report.watermark_after, batch.last_seq)
        for table, (ins, upd) in counts.items():
            report.inserted[table] += ins
            report.updated[table] += upd
        self.dead_letters.save_watermark(batch.pipeline_id, report.watermark_after)
        if self.on_batch_committed is not None:
            self.on_batch_committed(batch)

    # --- dead letters -----------------------------------------------------------------------------
    def dead_letter(self, batch: Batch, exc: BaseException, attempts: int) -> Path:
        """Write the batch and its error to its file, then try once to record it in PostgreSQL."""
        record = self.dead_letters.write(batch, exc, attempts, self.error_text(exc))
        log.error(
            "metrics export to %s: batch %s (updates %s) went to the dead-letter queue after %d attempt(s): "
            "%s: %s (%s)",
            self.target,
            batch.batch_id,
            ", ".join(batch.update_ids),
            attempts,
            type(exc).__name__,
            record["error_message"].splitlines()[0] if record["error_message"] else "",
            record["file_path"],
        )
        try:
            record_in_postgres(self.connection.get(), self.schema, record)
        except Exception as error:  # the database is often what failed: the file is the record
            self.connection.drop()
            log.info(
                "dead letter %s not recorded in PostgreSQL (%s); the file keeps it",
                record["batch_id"],
                type(error).__name__,
            )
        return Path(record["file_path"])

    def pending_dead_letters(self, pipeline_id: str | None = None) -> list[Path]:
        """Dead-letter files not re-driven yet (all pipelines when ``pipeline_id`` is None), oldest first."""
        return self.dead_letters.pending(pipeline_id)

    def _failed(self, report: ExportReport, batch: Batch, exc: BaseException, attempts: int) -> None:
        report.dead_letters.append(str(self.dead_letter(batch, exc, attempts)))
        report.error = f"{type(exc).__name__}: {self.error_text(exc).splitlines()[0]}"

    # --- entry points -------------------------------------------------------------------------------
    def export(
        self, pipeline_id: str, staged_since: Callable[[int], Mapping[str, Sequence[Mapping[str, Any]]]]
    ) -> ExportReport:
        """Export everything staged above the watermark. ``staged_since(seq)`` returns the staged rows
        (e.g. ``MetricsStaging.rows_since`` bound to the pipeline)."""
        report = ExportReport(pipeline_id)
        try:
            self.ensure_schema()
            report.watermark_before = self.watermark(pipeline_id)
        except Exception as exc:
            # The database cannot be read: dead-letter what is staged above the last known watermark.
            report.watermark_before = self.local_watermark(pipeline_id)
            report.attempts = self.last_attempts
            for batch in make_batches(pipeline_id, staged_since(report.watermark_before), self.batch_updates):
                self._failed(report, batch, exc, self.last_attempts)
            report.error = f"{type(exc).__name__}: {self.error_text(exc).splitlines()[0]}"
            report.watermark_after = report.watermark_before
            return report
        report.watermark_after = report.watermark_before
        for batch in make_batches(pipeline_id, staged_since(report.watermark_before), self.batch_updates):
            try:
                self._commit_batch(batch, report)
            except Exception as exc:
                attempts = self.last_attempts
                report.attempts += attempts
                self._failed(report, batch, exc, attempts)
                if stops_export(exc):
                    break  # the database is unwell: later batches wait above the watermark
        return report

    def redrive(self, pipeline_id: str | None = None) -> list[ExportReport]:
        """Replay pending dead letters (oldest first); each succeeds or stays pending with its new error."""
        reports: dict[str, ExportReport] = {}
        for path in self.pending_dead_letters(pipeline_id):
            record = json.loads(path.read_text())
            batch = Batch.from_json(record)
            report = reports.setdefault(batch.pipeline_id, ExportReport(batch.pipeline_id))
            try:
                self.ensure_schema()
                self._commit_batch(batch, report, redriven=record)
            except Exception as exc:
                self._failed(report, batch, exc, self.last_attempts)
                if stops_export(exc):
                    break
                continue
            self.dead_letters.done(path)
            log.info("metrics export: re-drove dead letter %s (%s)", batch.batch_id, batch.pipeline_id)
        return list(reports.values())
