"""Metrics from a real pipeline's event log, staged in Delta and exported to a real PostgreSQL.

One pipeline run (two updates, conftest.py) and one staging of its metrics are shared by every test;
each test exports into its own schema (or its own server, for the outage test).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from metrics_helpers import (
    COST,
    FAST_RETRY,
    NOW,
    SLA,
    PipelineRun,
    Staged,
    drop_schema,
    flows_from_log,
    query,
    table_counts,
)

from harness.postgres import PostgresInfo, provide_postgres
from harness.postgres.local import stop_local
from harness.postgres.local_files import LocalPaths
from harness.state import StateLayout
from pipeline.metrics.batches import Batch
from pipeline.metrics.failures import is_transient
from pipeline.metrics.migrate import applied_versions, apply_migrations, load_migrations
from pipeline.metrics.postgres_export import PostgresExporter
from pipeline.utils.errors import MigrationError

pytestmark = [pytest.mark.spark, pytest.mark.postgres]


def exporter(info: PostgresInfo, schema: str, tmp: Path, **kwargs: Any) -> PostgresExporter:
    return PostgresExporter(
        info.connect, schema=schema, dead_letter_dir=tmp / "dead_letters", retry=FAST_RETRY, **kwargs
    )


# --- metric values ---------------------------------------------------------------------------------


def test_staged_metrics_equal_the_event_log(staged: Staged, metrics_run: PipelineRun) -> None:
    logged = flows_from_log(metrics_run.pipeline.event_log())
    updates = [r.update_id for r in metrics_run.results]
    assert [u["update_id"] for u in staged.rows["pipeline_updates"]] == updates
    assert {u["state"] for u in staged.rows["pipeline_updates"]} == {"COMPLETED"}
    flows = {(f["update_id"], f["flow_name"]): f for f in staged.rows["flow_metrics"]}
    assert set(flows) == set(logged)
    for key, flow in flows.items():
        expected = logged[key]
        assert (flow["status"], flow["rows_out"], flow["rows_dropped"]) == (
            expected.status,
            expected.rows_out,
            expected.dropped,
        ), key
        assert (flow["files_read"], flow["bytes_read"]) == (expected.files, expected.bytes), key
        result = metrics_run.results[updates.index(key[0])].flows[key[1]]
        assert flow["rows_out"] == result.num_output_rows
        assert flow["rows_in"] == flow["rows_out"] + flow["rows_dropped"]
        assert flow["duration_s"] > 0 and flow["core_seconds"] == pytest.approx(flow["duration_s"] * 2)
    # the fixture's data: update 1 drops 2 of 5 rows, update 2 drops 1 of 3; the drops are quarantined
    silver = [flows[(u, "orders_silver")] for u in updates]
    assert [(f["rows_in"], f["rows_out"], f["rows_dropped"]) for f in silver] == [(5, 3, 2), (3, 2, 1)]
    for u in staged.rows["pipeline_updates"]:
        assert u["rows_quarantined"] == u["rows_dropped"]
        assert u["num_flows"] == u["num_flows_completed"] == 3
        assert u["core_seconds"] == pytest.approx(
            sum(f["core_seconds"] for f in flows.values() if f["update_id"] == u["update_id"])
        )
        assert u["dbus"] == pytest.approx(u["core_seconds"] / 3600 * 0.75)
        assert u["cost_usd"] == pytest.approx(u["dbus"] * 0.55)


def test_quality_lineage_and_sla_rows(staged: Staged, metrics_run: PipelineRun) -> None:
    logged = flows_from_log(metrics_run.pipeline.event_log())
    quality = {(q["update_id"], q["expectation_name"]): q for q in staged.rows["quality_metrics"]}
    for (update, flow), entry in logged.items():
        for name, (passed, failed) in entry.expectations.items():
            row = quality[(update, name)]
            assert (row["flow_name"], row["passed_records"], row["failed_records"]) == (flow, passed, failed)
            assert row["quality_rate"] == pytest.approx(passed / (passed + failed))
    first = metrics_run.results[0].update_id
    assert (quality[(first, "positive_amount")]["action"], quality[(first, "has_order_id")]["action"]) == (
        "DROP",
        "WARN",
    )
    assert (
        quality[(first, "positive_amount")]["passed_records"],
        quality[(first, "has_order_id")]["failed_records"],
    ) == (3, 1)
    edges = {(e["source_dataset"], e["target_dataset"]) for e in staged.rows["lineage_edges"]}
    assert edges == {("orders_bronze", "orders_silver"), ("orders_bronze", "orders_quarantine")}
    sla = {(s["update_id"], s["check_type"], s["subject"]): s for s in staged.rows["sla_status"]}
    last = metrics_run.results[-1].update_id
    # NOW is 12:00:00. Bronze's newest order is 10:00:02 (o-7); silver dropped o-7 (amount -2), so its
    # newest is o-6 at 10:00:01
    silver = sla[(last, "freshness", "orders_silver")]
    bronze = sla[(last, "freshness", "orders_bronze")]
    assert silver["observed_minutes"] == pytest.approx(119 + 59 / 60)
    assert bronze["observed_minutes"] == pytest.approx(119 + 58 / 60)
    assert (silver["compliant"], bronze["compliant"]) == (False, True)
    assert silver["newest_event_time"].startswith("2026-01-02T10:00:01")
    assert (silver["target_minutes"], bronze["target_minutes"]) == (60.0, 180.0)
    durations = [s for s in staged.rows["sla_status"] if s["check_type"] == "update_duration"]
    assert len(durations) == 2 and all(s["target_minutes"] == 30.0 for s in durations)


def test_staging_again_adds_nothing(staged: Staged) -> None:
    again = staged.staging.stage(
        staged.run.pipeline.event_log(),
        pipeline_id=staged.run.pipeline_id,
        cost=COST,
        sla=SLA,
        now=NOW,
        cores=2,
        tables={},
    )
    assert sum(again.values()) == 0
    assert staged.staging.rows_since(staged.run.pipeline_id, 0) == staged.rows


# --- export -----------------------------------------------------------------------------------------


def test_export_twice_adds_nothing_the_second_time(
    staged: Staged, metrics_pg: PostgresInfo, tmp_path: Path
) -> None:
    schema = "m_twice"
    drop_schema(metrics_pg, schema)
    pid = staged.run.pipeline_id
    first = exporter(metrics_pg, schema, tmp_path).export(pid, staged.since)
    assert first.ok and first.batches == 1 and first.watermark_before == 0
    counts = table_counts(metrics_pg, schema)
    assert counts == {
        "pipeline_updates": 2,
        "flow_metrics": 6,
        "quality_metrics": 4,
        "lineage_edges": 2,  # one row per edge across updates
        "sla_status": len(staged.rows["sla_status"]),
    }
    assert first.inserted == counts
    newest = max(int(u["update_seq"]) for u in staged.rows["pipeline_updates"])
    assert first.watermark_after == newest
    assert query(metrics_pg, f"SELECT last_seq, last_update_id FROM {schema}.export_watermarks") == [
        (newest, staged.run.results[-1].update_id)
    ]
    # the counts in PostgreSQL are the event log's
    logged = flows_from_log(staged.run.pipeline.event_log())
    stored = {
        (u, f): (rows, dropped)
        for u, f, rows, dropped in query(
            metrics_pg, f"SELECT update_id, flow_name, rows_out, rows_dropped FROM {schema}.flow_metrics"
        )
    }
    assert stored == {k: (v.rows_out, v.dropped) for k, v in logged.items()}
    rates = query(
        metrics_pg,
        f"SELECT update_id, expectation_name, quality_rate FROM {schema}.quality_metrics ORDER BY 1, 2",
    )
    assert all(
        rate == pytest.approx(q["quality_rate"])
        for (_, _, rate), q in zip(
            rates,
            sorted(staged.rows["quality_metrics"], key=lambda q: (q["update_id"], q["expectation_name"])),
            strict=True,
        )
    )

    second = exporter(metrics_pg, schema, tmp_path).export(pid, staged.since)
    assert second.ok and second.batches == 0 and second.watermark_before == newest
    assert table_counts(metrics_pg, schema) == counts
    # a forced replay of everything (as after a crash between commit and acknowledgement) changes nothing
    replay = exporter(metrics_pg, schema, tmp_path).export(pid, lambda _seq: staged.rows)
    assert replay.ok and replay.batches == 1
    assert sum(replay.inserted.values()) == 0 and sum(replay.updated.values()) == 0
    assert table_counts(metrics_pg, schema) == counts


def test_server_stopped_mid_export_dead_letter_then_redrive(
    staged: Staged, fresh_pg_state: StateLayout, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schema = "m_outage"
    pid = staged.run.pipeline_id
    committed: list[Batch] = []

    def stop_after_first(batch: Batch) -> None:
        committed.append(batch)
        if len(committed) == 1:
            stop_local(LocalPaths(fresh_pg_state.postgres_dir))

    caplog.set_level(logging.WARNING, logger="pipeline.metrics")
    with provide_postgres(fresh_pg_state, prefer="local") as pg:
        ex = exporter(pg, schema, tmp_path, batch_updates=1, on_batch_committed=stop_after_first)
        report = ex.export(pid, staged.since)
        ex.close()
    assert len(committed) == 1 and report.batches == 1
    assert len(report.dead_letters) == 1 and report.error is not None
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == FAST_RETRY.max_attempts - 1
    assert report.attempts == 1 + FAST_RETRY.max_attempts
    letter = json.loads(Path(report.dead_letters[0]).read_text())
    second_update = staged.run.results[1].update_id
    assert letter["update_ids"] == [second_update] and letter["transient"] is True
    assert letter["attempts"] == FAST_RETRY.max_attempts and letter["error_class"] in (
        "OperationalError",
        "InterfaceError",
    )
    assert [r["update_id"] for r in letter["rows"]["pipeline_updates"]] == [second_update]

    with provide_postgres(fresh_pg_state, prefer="local") as pg:
        # the first batch and its watermark committed together; nothing of the second is there
        first_seq = committed[0].last_seq
        assert query(pg, f"SELECT last_seq FROM {schema}.export_watermarks") == [(first_seq,)]
        assert query(pg, f"SELECT update_id FROM {schema}.pipeline_updates") == [
            (staged.run.results[0].update_id,)
        ]
        assert query(pg, f"SELECT count(*) FROM {schema}.dead_letters") == [(0,)]  # the server was down

        ex = exporter(pg, schema, tmp_path, batch_updates=1)
        (redrive,) = ex.redrive(pid)
        assert redrive.ok and redrive.batches == 1 and redrive.updates == [second_update]
        assert ex.pending_dead_letters(pid) == []
        assert (tmp_path / "dead_letters" / pid / "redriven" / Path(report.dead_letters[0]).name).is_file()
        counts = table_counts(pg, schema)
        assert (
            counts["pipeline_updates"] == 2 and counts["flow_metrics"] == 6 and counts["quality_metrics"] == 4
        )
        newest = max(int(u["update_seq"]) for u in staged.rows["pipeline_updates"])
        assert query(pg, f"SELECT last_seq FROM {schema}.export_watermarks") == [(newest,)]
        ((batch_id, redriven_at, attempts),) = query(
            pg, f"SELECT batch_id, redriven_at, attempts FROM {schema}.dead_letters"
        )
        assert (
            batch_id == letter["batch_id"] and redriven_at is not None and attempts == FAST_RETRY.max_attempts
        )
        # nothing left: a re-drive finds nothing, an export adds nothing
        assert ex.redrive(pid) == []
        after = ex.export(pid, staged.since)
        assert after.ok and after.batches == 0 and table_counts(pg, schema) == counts
        ex.close()


def test_a_bad_batch_rolls_back_with_its_watermark(
    staged: Staged, metrics_pg: PostgresInfo, tmp_path: Path
) -> None:
    schema = "m_atomic"
    drop_schema(metrics_pg, schema)
    pid = staged.run.pipeline_id
    second = staged.run.results[1].update_id
    rows = {t: [dict(r) for r in rs] for t, rs in staged.rows.items()}
    for flow in rows["flow_metrics"]:
        if flow["update_id"] == second and flow["flow_name"] == "orders_silver":
            flow["rows_out"] = -1  # violates CHECK (rows_out >= 0), after the update row was inserted
    ex = exporter(metrics_pg, schema, tmp_path, batch_updates=1)
    report = ex.export(
        pid, lambda seq: {t: [r for r in rs if int(r["update_seq"]) > seq] for t, rs in rows.items()}
    )
    assert report.batches == 1 and len(report.dead_letters) == 1
    assert report.attempts == 2  # a permanent error is not retried
    first_seq = min(int(u["update_seq"]) for u in rows["pipeline_updates"])
    assert query(metrics_pg, f"SELECT last_seq FROM {schema}.export_watermarks") == [(first_seq,)]
    assert query(
        metrics_pg, f"SELECT count(*) FROM {schema}.pipeline_updates WHERE update_id = %s", (second,)
    ) == [(0,)]
    ((error_class, redriven),) = query(
        metrics_pg, f"SELECT error_class, redriven_at FROM {schema}.dead_letters"
    )
    assert error_class == "CheckViolation" and redriven is None
    ex.close()


def test_migrations_are_idempotent_recorded_and_checked(metrics_pg: PostgresInfo) -> None:
    schema = "m_migrations"
    drop_schema(metrics_pg, schema)
    conn = metrics_pg.connect()
    try:
        migrations = load_migrations()
        assert apply_migrations(conn, schema) == [m.version for m in migrations]
        assert apply_migrations(conn, schema) == []
        assert applied_versions(conn, schema) == {m.version: m.checksum for m in migrations}
        assert query(
            metrics_pg,
            "SELECT count(*) FROM pg_roles WHERE rolname IN ('metrics_exporter', 'metrics_reader')",
        ) == [(2,)]
        assert query(
            metrics_pg,
            "SELECT has_table_privilege('metrics_exporter', %s, 'INSERT'), "
            "has_table_privilege('metrics_exporter', %s, 'DELETE'), "
            "has_table_privilege('metrics_reader', %s, 'INSERT')",
            (f"{schema}.flow_metrics", f"{schema}.flow_metrics", f"{schema}.flow_metrics"),
        ) == [(True, False, False)]
        edited = [
            type(migrations[0])(migrations[0].version, migrations[0].name, migrations[0].sql + "\n-- edited")
        ]
        with pytest.raises(MigrationError) as err:
            apply_migrations(conn, schema, edited)
        assert err.value.version == 1
    finally:
        conn.close()


def test_real_server_errors_are_classified(metrics_pg: PostgresInfo) -> None:
    conn = metrics_pg.connect()
    try:
        with pytest.raises(psycopg2.Error) as timeout, conn, conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = 10")
            cur.execute("SELECT pg_sleep(1)")
        assert timeout.value.pgcode == "57014" and is_transient(timeout.value)
        with pytest.raises(psycopg2.Error) as check, conn, conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE t (n int CHECK (n >= 0))")
            cur.execute("INSERT INTO t VALUES (-1)")
        assert check.value.pgcode == "23514" and not is_transient(check.value)
    finally:
        conn.close()


def test_export_after_run_hook_uses_the_state_and_the_chain(
    metrics_run: PipelineRun,
    metrics_pg: PostgresInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness.cli.export_commands import export_after_run
    from harness.metrics_export import dead_letter_dir, metrics_dir

    schema = "m_cli"
    drop_schema(metrics_pg, schema)
    monkeypatch.setenv("HARNESS_PG_DSN", metrics_pg.dsn())
    monkeypatch.setenv("HARNESS_PG_PASSWORD", metrics_pg.password or "")
    config = tmp_path / "dev_config.json"
    config.write_text(
        json.dumps(
            {
                "export": {
                    "enabled": True,
                    "schema": schema,
                    "host": "ignored-without---connect-from-config",
                },
                "cost": {"dbu_per_core_hour": 0.75, "usd_per_dbu": 0.55},
                "sla": {"freshness_minutes": {"orders_silver": 60, "no_such_table": 5}},
            }
        )
    )
    export_after_run(metrics_run.pipeline, str(config))
    out = capsys.readouterr().out
    assert "Metrics export:" in out and "watermark 0 ->" in out
    assert table_counts(metrics_pg, schema)["pipeline_updates"] == 2
    assert (metrics_dir(metrics_run.pipeline) / "staging" / "pipeline_updates" / "_delta_log").is_dir()
    assert not list(dead_letter_dir(metrics_run.pipeline).glob("*/*-*.json"))
    # disabled: nothing happens
    config.write_text(json.dumps({"export": {"enabled": False, "schema": "m_cli_off"}}))
    export_after_run(metrics_run.pipeline, str(config))
    assert query(metrics_pg, "SELECT to_regnamespace('m_cli_off')") == [(None,)]
