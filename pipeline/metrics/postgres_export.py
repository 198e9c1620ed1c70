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

from pipeline.metrics.config import RetryPolicy
from pipeline.metrics.identifiers import check_identifier, quote_ident
from pipeline.metrics.migrate import apply_migrations, pending_migrations
from pipeline.metrics.pipeline_metrics import NATURAL_KEYS, TABLE_COLUMNS

log = logging.getLogger(__name__)

STREAM = "event_log"
#: SQLSTATEs worth retrying: serialization failure, deadlock, query canceled (statement_timeout),
#: admin/crash shutdown, cannot connect now, too many connections, lock not available.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "57014", "57P01", "57P02", "57P03", "53300", "55P03"})
#: libpq reports a refused login without a SQLSTATE (the server's FATAL arrives as text): these
#: connection failures are configuration, not weather, and are never retried.
PERMANENT_CONNECT_ERRORS = (
    "password authentication failed",
    "authentication failed for user",
    "no pg_hba.conf entry",
    "does not exist",  # role or database
    "no password supplied",
    "server does not support ssl",
    "certificate verify failed",
    "permission denied for database",
)
#: Insert order inside a batch (foreign keys point at pipeline_updates).
WRITE_ORDER = ("pipeline_updates", "flow_metrics", "quality_metrics", "lineage_edges", "sla_status")
LINEAGE_PG_COLUMNS = (
    "pipeline_id",
    "flow_name",
    "source_dataset",
    "target_dataset",
    "flow_type",
    "first_seen_update_id",
    "first_seen_at",
    "first_seen_seq",
    "last_seen_update_id",
    "last_seen_at",
    "last_seen_seq",
)


def is_transient(exc: BaseException) -> bool:
    """True for errors a later attempt may not see (class 08 connection errors, `TRANSIENT_SQLSTATES`,
    an OperationalError without SQLSTATE such as "connection refused", socket timeouts)."""
    import psycopg2

    code = getattr(exc, "pgcode", None)
    if code:
        return code.startswith("08") or code in TRANSIENT_SQLSTATES
    text = str(exc).lower()
    if any(marker in text for marker in PERMANENT_CONNECT_ERRORS):
        return False
    return isinstance(
        exc, psycopg2.OperationalError | psycopg2.InterfaceError | TimeoutError | ConnectionError
    )


def stops_export(exc: BaseException) -> bool:
    """True when later batches would fail the same way, so the export stops after this one: transient
    errors, a refused login, and class 53 (disk full, out of memory: not retried, the server must be
    fixed first). A data error in one batch (a CHECK violation) lets the export go on."""
    code = getattr(exc, "pgcode", None) or ""
    return is_transient(exc) or code.startswith("53") or (not code and _is_connect_error(exc))


def _is_connect_error(exc: BaseException) -> bool:
    import psycopg2

    return isinstance(exc, psycopg2.OperationalError) and "connection to server" in str(exc)


def describe_target(connect: Callable[[], Any]) -> str | None:
    """``user@host:port/database`` behind a connect function, or None when it cannot tell.

    Understood: a bound method of an object with ``host`` and ``database`` attributes
    (`ConnectionSettings.connect`, the harness's ``PostgresInfo.connect``), such an object itself,
    and a closure that calls one of those (a wrapper adding a hook before connecting).
    """
    candidates: list[Any] = [connect, getattr(connect, "__self__", None)]
    for cell in getattr(connect, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        candidates += [value, getattr(value, "__self__", None)]
    for owner in candidates:
        host, database = getattr(owner, "host", None), getattr(owner, "database", None)
        if isinstance(host, str) and isinstance(database, str) and host and database:
            user = getattr(owner, "user", None) or "?"
            return f"{user}@{host}:{getattr(owner, 'port', '?')}/{database}"
    return None


def _ident(name: str) -> str:
    return quote_ident(name, "export.schema")


# --- batches -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """The metric rows of consecutive updates, written in one transaction."""

    pipeline_id: str
    update_ids: tuple[str, ...]
    first_seq: int
    last_seq: int
    rows: Mapping[str, Sequence[Mapping[str, Any]]]

    @property
    def batch_id(self) -> str:
        """Deterministic (the same updates always make the same id): a re-failing batch keeps one dead letter."""
        return f"{self.first_seq:012d}-{self.last_seq:012d}"

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline_id": self.pipeline_id,
            "batch_id": self.batch_id,
            "update_ids": list(self.update_ids),
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "rows": {t: [dict(r) for r in rs] for t, rs in self.rows.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Batch:
        return cls(
            data["pipeline_id"],
            tuple(data["update_ids"]),
            int(data["first_seq"]),
            int(data["last_seq"]),
            {t: list(rs) for t, rs in data["rows"].items()},
        )


def make_batches(
    pipeline_id: str, rows: Mapping[str, Sequence[Mapping[str, Any]]], batch_updates: int
) -> list[Batch]:
    """Group staged rows by update, ``batch_updates`` updates per batch, in update_seq order."""
    updates = sorted(rows.get("pipeline_updates", ()), key=lambda r: int(r["update_seq"]))
    batches = []
    for start in range(0, len(updates), max(1, batch_updates)):
        chunk = updates[start : start + max(1, batch_updates)]
        ids = tuple(u["update_id"] for u in chunk)
        wanted = set(ids)
        batches.append(
            Batch(
                pipeline_id,
                ids,
                int(chunk[0]["update_seq"]),
                int(chunk[-1]["update_seq"]),
                {t: [r for r in rows.get(t, ()) if r["update_id"] in wanted] for t in WRITE_ORDER},
            )
        )
    return batches


def dedupe(table: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per natural key (ON CONFLICT cannot touch a row twice in one statement); the row with the
    highest update_seq wins, and lineage rows merge first/last seen."""
    if table == "lineage_edges":
        return list(_lineage_rows(rows).values())
    key = NATURAL_KEYS[table]
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in best or int(row["update_seq"]) >= int(best[k]["update_seq"]):
            best[k] = dict(row)
    return list(best.values())


def _lineage_rows(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    edges: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: int(r["update_seq"])):
        k = tuple(row[c] for c in NATURAL_KEYS["lineage_edges"])
        edge = edges.setdefault(
            k,
            {
                **{c: row[c] for c in NATURAL_KEYS["lineage_edges"]},
                "first_seen_update_id": row["update_id"],
                "first_seen_at": row["seen_at"],
                "first_seen_seq": int(row["update_seq"]),
            },
        )
        edge.update(
            flow_type=row["flow_type"],
            last_seen_update_id=row["update_id"],
            last_seen_at=row["seen_at"],
            last_seen_seq=int(row["update_seq"]),
        )
    return edges


def upsert_sql(schema: str, table: str) -> tuple[str, tuple[str, ...]]:
    """(INSERT ... VALUES %s ON CONFLICT ... statement, its column order) for one metric table."""
    target = f"{_ident(schema)}.{_ident(table)}"
    if table == "lineage_edges":
        columns = LINEAGE_PG_COLUMNS
        key = NATURAL_KEYS[table]
        first = "EXCLUDED.first_seen_seq < t.first_seen_seq"
        last = "EXCLUDED.last_seen_seq > t.last_seen_seq"
        sets = [
            f"first_seen_update_id = CASE WHEN {first} THEN EXCLUDED.first_seen_update_id ELSE t.first_seen_update_id END",
            f"first_seen_at = CASE WHEN {first} THEN EXCLUDED.first_seen_at ELSE t.first_seen_at END",
            "first_seen_seq = LEAST(t.first_seen_seq, EXCLUDED.first_seen_seq)",
            f"last_seen_update_id = CASE WHEN {last} THEN EXCLUDED.last_seen_update_id ELSE t.last_seen_update_id END",
            f"last_seen_at = CASE WHEN {last} THEN EXCLUDED.last_seen_at ELSE t.last_seen_at END",
            f"flow_type = CASE WHEN {last} THEN EXCLUDED.flow_type ELSE t.flow_type END",
            "last_seen_seq = GREATEST(t.last_seen_seq, EXCLUDED.last_seen_seq)",
        ]
        where = f"{first} OR {last}"
    else:
        columns = tuple(c for c in TABLE_COLUMNS[table] if c != "quality_rate")
        key = NATURAL_KEYS[table]
        payload = [c for c in columns if c not in key]
        sets = [f"{c} = EXCLUDED.{c}" for c in payload] + ["exported_at = now()"]
        mine = ", ".join(f"t.{c}" for c in payload)
        theirs = ", ".join(f"EXCLUDED.{c}" for c in payload)
        # a replay of identical values is a no-op; an older replay never overwrites newer numbers
        where = f"t.update_seq <= EXCLUDED.update_seq AND ({mine}) IS DISTINCT FROM ({theirs})"
    sql = (
        f"INSERT INTO {target} AS t ({', '.join(columns)}) VALUES %s "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)} WHERE {where} "
        "RETURNING (xmax = 0) AS inserted"
    )
    return sql, columns


# --- the exporter ----------------------------------------------------------------------------------


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
    harness's provider chain locally)."""

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
        self._connect = connect
        self.schema = check_identifier("export.schema", schema)
        #: ``user@host:port/database`` in every error and log line (never the password)
        self.target = target or describe_target(connect) or "PostgreSQL"
        self.last_attempts = 0
        self.dead_letter_dir = Path(dead_letter_dir)
        self.retry = retry or RetryPolicy()
        self.batch_updates = batch_updates
        self.statement_timeout_ms = statement_timeout_ms
        self.on_batch_committed = on_batch_committed
        self.clock = clock
        self._conn: Any = None
        self._migrated = False

    # --- connections and retries ------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                log.debug("closing a failed connection", exc_info=True)
        self._conn = None

    def close(self) -> None:
        self._drop_connection()

    def _retrying(self, what: str, func: Callable[[Any], Any]) -> tuple[Any, int]:
        """Run ``func(connection)`` with tenacity's exponential backoff + jitter on transient errors.
        Returns (result, attempts); re-raises the last error."""
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

        attempts = 0

        def before_sleep(state: Any) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "metrics export to %s: %s failed (attempt %d of %d, %s: %s); retrying in %.2f s",
                self.target,
                what,
                state.attempt_number,
                self.retry.max_attempts,
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if exc else "",
                state.next_action.sleep if state.next_action else 0,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=self.retry.initial_wait_s, max=self.retry.max_wait_s, jitter=self.retry.jitter_s
            ),
            retry=retry_if_exception(is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                attempts = self.last_attempts = attempt.retry_state.attempt_number
                try:
                    return func(self._connection()), attempts
                except Exception:
                    self._drop_connection()
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

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

        applied, _ = self._retrying("migrating the schema", migrate)
        self._migrated = True
        return applied

    def watermark(self, pipeline_id: str) -> int:
        def read(conn: Any) -> int:
            with conn, conn.cursor() as cur:
                cur.execute(
                    f"SELECT last_seq FROM {_ident(self.schema)}.export_watermarks WHERE pipeline_id = %s AND stream = %s",
                    (pipeline_id, STREAM),
                )
                row = cur.fetchone()
                return int(row[0]) if row else 0

        value, _ = self._retrying("reading the watermark", read)
        return value

    # --- writing one batch ------------------------------------------------------------------------
    def _write(
        self, conn: Any, batch: Batch, redriven: Mapping[str, Any] | None = None
    ) -> dict[str, tuple[int, int]]:
        from psycopg2.extras import Json, execute_values

        counts: dict[str, tuple[int, int]] = {}
        schema = _ident(self.schema)
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
                f"INSERT INTO {schema}.export_watermarks AS w (pipeline_id, stream, last_seq, last_update_id, batches) "
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
                cur.execute(
                    f"INSERT INTO {schema}.dead_letters AS d (pipeline_id, batch_id, first_seq, last_seq, update_ids, "
                    "attempts, error_class, error_message, file_path, payload, failed_at, redriven_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) "
                    "ON CONFLICT (pipeline_id, batch_id) DO UPDATE SET redriven_at = now()",
                    (
                        batch.pipeline_id,
                        batch.batch_id,
                        batch.first_seq,
                        batch.last_seq,
                        list(batch.update_ids),
                        int(redriven.get("attempts") or 1),
                        redriven.get("error_class") or "unknown",
                        redriven.get("error_message") or "",
                        redriven.get("file_path"),
                        Json(batch.to_json()),
                        redriven.get("failed_at"),
                    ),
                )
        return counts

    def _commit_batch(
        self, batch: Batch, report: ExportReport, redriven: Mapping[str, Any] | None = None
    ) -> None:
        counts, attempts = self._retrying(
            f"writing batch {batch.batch_id}", lambda conn: self._write(conn, batch, redriven)
        )
        report.attempts += attempts
        report.batches += 1
        report.updates.extend(batch.update_ids)
        report.watermark_after = max(report.watermark_after, batch.last_seq)
        for table, (ins, upd) in counts.items():
            report.inserted[table] += ins
            report.updated[table] += upd
        self._save_local_watermark(batch.pipeline_id, report.watermark_after)
        if self.on_batch_committed is not None:
            self.on_batch_committed(batch)

    def error_text(self, exc: BaseException) -> str:
        """The driver's message prefixed with the target (``at user@host:port/db``): a timeout or a disk
        error says nothing about which server it came from. libpq messages never hold the password."""
        text = str(exc).strip() or type(exc).__name__
        code = getattr(exc, "pgcode", None)
        return f"at {self.target}{f' (SQLSTATE {code})' if code else ''}: {text}"

    # --- dead letters -----------------------------------------------------------------------------
    def _dl_dir(self, pipeline_id: str) -> Path:
        return self.dead_letter_dir / pipeline_id

    def _save_local_watermark(self, pipeline_id: str, seq: int) -> None:
        """A local copy of the last committed watermark, used only when the database cannot be read."""
        path = self._dl_dir(pipeline_id) / "watermark.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_seq": seq}))
        os.replace(tmp, path)

    def local_watermark(self, pipeline_id: str) -> int:
        try:
            return int(json.loads((self._dl_dir(pipeline_id) / "watermark.json").read_text())["last_seq"])
        except (FileNotFoundError, ValueError, KeyError):
            return 0

    def dead_letter(self, batch: Batch, exc: BaseException, attempts: int) -> Path:
        """Write the batch and its error to a JSON file (atomically), then try once to record it in PostgreSQL."""
        directory = self._dl_dir(batch.pipeline_id)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{batch.batch_id}.json"
        previous = json.loads(path.read_text()) if path.exists() else {}
        record = {
            **batch.to_json(),
            "attempts": int(previous.get("attempts") or 0) + attempts,
            "error_class": type(exc).__name__,
            "error_message": self.error_text(exc)[:4000],
            "transient": is_transient(exc),
            "failed_at": self.clock().isoformat(),
            "file_path": str(path),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True, default=str))
        os.replace(tmp, path)
        log.error(
            "metrics export to %s: batch %s (updates %s) went to the dead-letter queue after %d attempt(s): "
            "%s: %s (%s)",
            self.target,
            batch.batch_id,
            ", ".join(batch.update_ids),
            attempts,
            type(exc).__name__,
            record["error_message"].splitlines()[0] if record["error_message"] else "",
            path,
        )
        self._record_dead_letter(record)
        return path

    def _record_dead_letter(self, record: Mapping[str, Any]) -> None:
        from psycopg2.extras import Json

        try:
            conn = self._connection()
            with conn, conn.cursor() as cur:
                cur.execute(
                    f"INSERT INTO {_ident(self.schema)}.dead_letters (pipeline_id, batch_id, first_seq, last_seq, "
                    "update_ids, attempts, error_class, error_message, file_path, payload, failed_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (pipeline_id, batch_id) DO UPDATE "
                    "SET attempts = EXCLUDED.attempts, error_class = EXCLUDED.error_class, "
                    "error_message = EXCLUDED.error_message, failed_at = EXCLUDED.failed_at, redriven_at = NULL",
                    (
                        record["pipeline_id"],
                        record["batch_id"],
                        record["first_seq"],
                        record["last_seq"],
                        record["update_ids"],
                        record["attempts"],
                        record["error_class"],
                        record["error_message"],
                        record["file_path"],
                        Json({"rows": record["rows"]}),
                        record["failed_at"],
                    ),
                )
        except Exception as exc:  # the database is often what failed: the file is the record
            self._drop_connection()
            log.info(
                "dead letter %s not recorded in PostgreSQL (%s); the file keeps it",
                record["batch_id"],
                type(exc).__name__,
            )

    def pending_dead_letters(self, pipeline_id: str | None = None) -> list[Path]:
        """Dead-letter files not re-driven yet (all pipelines when ``pipeline_id`` is None), oldest first."""
        roots = (
            [self._dl_dir(pipeline_id)]
            if pipeline_id
            else [p for p in self.dead_letter_dir.glob("*") if p.is_dir()]
        )
        return sorted((f for r in roots for f in r.glob("*-*.json")), key=lambda p: (p.parent.name, p.name))

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
            report.error = f"{type(exc).__name__}: {self.error_text(exc).splitlines()[0]}"
            for batch in make_batches(pipeline_id, staged_since(report.watermark_before), self.batch_updates):
                report.dead_letters.append(str(self.dead_letter(batch, exc, self.last_attempts)))
            report.watermark_after = report.watermark_before
            return report
        report.watermark_after = report.watermark_before
        for batch in make_batches(pipeline_id, staged_since(report.watermark_before), self.batch_updates):
            try:
                self._commit_batch(batch, report)
            except Exception as exc:
                attempts = self.last_attempts
                report.attempts += attempts
                report.dead_letters.append(str(self.dead_letter(batch, exc, attempts)))
                report.error = f"{type(exc).__name__}: {self.error_text(exc).splitlines()[0]}"
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
                report.dead_letters.append(str(self.dead_letter(batch, exc, self.last_attempts)))
                report.error = f"{type(exc).__name__}: {self.error_text(exc).splitlines()[0]}"
                if stops_export(exc):
                    break
                continue
            done = path.parent / "redriven"
            done.mkdir(exist_ok=True)
            os.replace(path, done / path.name)
            log.info("metrics export: re-drove dead letter %s (%s)", batch.batch_id, batch.pipeline_id)
        return list(reports.values())


__all__ = [
    "STREAM",
    "TRANSIENT_SQLSTATES",
    "Batch",
    "ExportReport",
    "PostgresExporter",
    "dedupe",
    "describe_target",
    "is_transient",
    "make_batches",
    "stops_export",
    "upsert_sql",
]
