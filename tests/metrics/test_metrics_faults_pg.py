"""PostgreSQL faults during a metrics export, each against a real local server, then recovery.

Every case ends the same way: after the cause is removed, a re-drive of the dead letters (and an
export for batches the failed one never reached) leaves exactly the staged rows in PostgreSQL, once
each (`assert_exported_once`). The server stopped between two batches is in
test_metrics_export_pg.py (`test_server_stopped_mid_export_dead_letter_then_redrive`).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from metrics_helpers import FAST_RETRY, Staged, assert_exported_once, drop_schema, query

from harness.postgres import PostgresInfo
from harness.postgres.local import free_port
from pipeline.metrics.batches import Batch
from pipeline.metrics.postgres_export import PostgresExporter

pytestmark = [pytest.mark.spark, pytest.mark.postgres]


def exporter(info: PostgresInfo, schema: str, tmp: Path, **kwargs: Any) -> PostgresExporter:
    return PostgresExporter(
        info.connect,
        schema=schema,
        dead_letter_dir=tmp / "dead_letters",
        retry=FAST_RETRY,
        batch_updates=1,
        **kwargs,
    )


def target(info: PostgresInfo) -> str:
    return f"{info.user}@{info.host}:{info.port}/{info.database}"


def letters(report: Any) -> list[dict[str, Any]]:
    return [json.loads(Path(p).read_text()) for p in report.dead_letters]


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]


def recover(info: PostgresInfo, schema: str, tmp: Path, staged: Staged) -> None:
    """What an operator runs once the cause is gone: re-drive, then export what was never tried."""
    ex = exporter(info, schema, tmp)
    try:
        reports = ex.redrive(staged.run.pipeline_id)
        assert reports and all(r.ok for r in reports), [r.error for r in reports]
        assert ex.pending_dead_letters(staged.run.pipeline_id) == []
        after = ex.export(staged.run.pipeline_id, staged.since)
        assert after.ok, after.error
    finally:
        ex.close()
    assert_exported_once(info, schema, staged)


def test_down_at_start_dead_letters_everything_then_redrive(
    staged: Staged, metrics_pg: PostgresInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens on the port (what a client sees of a stopped server): connection refused,
    retried, every staged batch dead-lettered in files (the database cannot record them)."""
    schema = "m_down_start"
    drop_schema(metrics_pg, schema)
    down = replace(metrics_pg, port=free_port())
    caplog.set_level(logging.WARNING, logger="pipeline.metrics")
    ex = exporter(down, schema, tmp_path)
    report = ex.export(staged.run.pipeline_id, staged.since)
    ex.close()
    assert report.batches == 0 and report.attempts == FAST_RETRY.max_attempts
    assert len(retry_lines(caplog)) == FAST_RETRY.max_attempts - 1
    assert len(report.dead_letters) == len(staged.rows["pipeline_updates"]) == 2
    assert target(down) in report.error and "Connection refused" in report.error
    assert all(target(down) in letter["error_message"] and letter["transient"] for letter in letters(report))
    assert [u for letter in letters(report) for u in letter["update_ids"]] == [
        r.update_id for r in staged.run.results
    ]
    recover(metrics_pg, schema, tmp_path, staged)
    assert query(metrics_pg, f"SELECT count(*) FROM {schema}.dead_letters WHERE redriven_at IS NOT NULL") == [
        (2,)
    ]


def test_backend_killed_between_batches_is_retried_on_a_new_connection(
    staged: Staged, metrics_pg: PostgresInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """pg_terminate_backend from a second connection after batch 1: batch 2 fails on the dead
    connection, the retry reconnects and commits it; nothing is dead-lettered or lost."""
    schema = "m_killed"
    drop_schema(metrics_pg, schema)
    killed: list[int] = []
    ex = exporter(metrics_pg, schema, tmp_path)

    def kill_backend(_batch: Batch) -> None:
        if not killed:
            killed.append(ex.connection.current.get_backend_pid())
            assert query(metrics_pg, "SELECT pg_terminate_backend(%s)", (killed[0],)) == [(True,)]

    ex.on_batch_committed = kill_backend
    caplog.set_level(logging.WARNING, logger="pipeline.metrics")
    report = ex.export(staged.run.pipeline_id, staged.since)
    assert report.ok and report.batches == 2 and report.attempts == 3, report.error
    assert len(retry_lines(caplog)) == 1 and target(metrics_pg) in retry_lines(caplog)[0]
    assert ex.connection.current.get_backend_pid() != killed[0]
    ex.close()
    assert_exported_once(metrics_pg, schema, staged)


def test_slow_server_statement_timeout_under_a_lock(
    staged: Staged, metrics_pg: PostgresInfo, tmp_path: Path
) -> None:
    """Another session holds an ACCESS EXCLUSIVE lock on pipeline_updates: each attempt's INSERT waits
    until the exporter's statement_timeout (57014), is retried, and the batch is dead-lettered (and
    recorded: dead_letters is not locked). After the lock goes, re-drive + export complete it."""
    schema = "m_slow"
    drop_schema(metrics_pg, schema)
    timeout_ms = 300
    ex = exporter(metrics_pg, schema, tmp_path, statement_timeout_ms=timeout_ms)
    ex.ensure_schema()
    locker = metrics_pg.connect()
    try:
        with locker.cursor() as cur:
            cur.execute(f"LOCK TABLE {schema}.pipeline_updates IN ACCESS EXCLUSIVE MODE")
        began = time.monotonic()
        report = ex.export(staged.run.pipeline_id, staged.since)
        elapsed = time.monotonic() - began
        ex.close()
    finally:
        locker.rollback()
        locker.close()
    assert elapsed >= FAST_RETRY.max_attempts * timeout_ms / 1000
    assert report.batches == 0 and report.attempts == FAST_RETRY.max_attempts
    assert len(report.dead_letters) == 1  # transient: the export stops, batch 2 waits above the watermark
    assert "SQLSTATE 57014" in report.error and "statement timeout" in report.error
    assert target(metrics_pg) in report.error
    assert query(metrics_pg, f"SELECT error_class, attempts, redriven_at FROM {schema}.dead_letters") == [
        ("QueryCanceled", FAST_RETRY.max_attempts, None)
    ]
    assert query(metrics_pg, f"SELECT count(*) FROM {schema}.pipeline_updates") == [(0,)]
    recover(metrics_pg, schema, tmp_path, staged)


def test_authentication_failure_is_not_retried(
    staged: Staged, metrics_pg: PostgresInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schema = "m_auth"
    drop_schema(metrics_pg, schema)
    wrong = "wrong-" + secrets.token_urlsafe(12)
    caplog.set_level(logging.DEBUG)
    ex = exporter(replace(metrics_pg, password=wrong), schema, tmp_path)
    report = ex.export(staged.run.pipeline_id, staged.since)
    ex.close()
    assert report.attempts == 1 and retry_lines(caplog) == []
    assert len(report.dead_letters) == 2
    assert "password authentication failed" in report.error and target(metrics_pg) in report.error
    assert all(not letter["transient"] and letter["attempts"] == 1 for letter in letters(report))
    texts = [report.error, caplog.text, *(Path(p).read_text() for p in report.dead_letters)]
    assert not any(wrong in text for text in texts)
    recover(metrics_pg, schema, tmp_path, staged)


DISK_FULL_TRIGGER = """
CREATE FUNCTION {schema}.disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'disk_full', HINT = 'Check free disk space.',
        MESSAGE = 'could not extend file "base/16384/16500": No space left on device';
END $$;
CREATE TRIGGER disk_full BEFORE INSERT ON {schema}.flow_metrics
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.disk_full();
"""


def test_disk_full_write_error_stops_without_retry(
    staged: Staged, metrics_pg: PostgresInfo, tmp_path: Path
) -> None:
    """A write error with SQLSTATE 53100 (disk_full), raised by a trigger on flow_metrics with the
    message PostgreSQL gives when a relation cannot grow. Seconds of backoff do not free a disk: no
    retry, the batch is dead-lettered (the update row inserted before it rolls back) and the export
    stops. After the disk is "freed" (trigger dropped), re-drive + export complete it."""
    schema = "m_disk_full"
    drop_schema(metrics_pg, schema)
    ex = exporter(metrics_pg, schema, tmp_path)
    ex.ensure_schema()
    query_conn = metrics_pg.connect()
    try:
        with query_conn, query_conn.cursor() as cur:
            cur.execute(DISK_FULL_TRIGGER.format(schema=schema))
    finally:
        query_conn.close()
    report = ex.export(staged.run.pipeline_id, staged.since)
    ex.close()
    assert report.batches == 0 and report.attempts == 1 and len(report.dead_letters) == 1
    assert report.error.startswith("DiskFull: ") and "SQLSTATE 53100" in report.error
    assert target(metrics_pg) in report.error and "No space left on device" in report.error
    assert query(metrics_pg, f"SELECT count(*) FROM {schema}.pipeline_updates") == [(0,)]
    assert query(metrics_pg, f"SELECT error_class, redriven_at FROM {schema}.dead_letters") == [
        ("DiskFull", None)
    ]
    drop = metrics_pg.connect()
    try:
        with drop, drop.cursor() as cur:
            cur.execute(f"DROP TRIGGER disk_full ON {schema}.flow_metrics")
    finally:
        drop.close()
    recover(metrics_pg, schema, tmp_path, staged)
