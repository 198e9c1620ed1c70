"""Security of the metrics export against a real PostgreSQL: no credential in any output, a
least-privilege login that can export and nothing else, sslmode passed through (and SSL proven on a
server built with OpenSSL when one is installed).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import traceback
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg2
import pytest
from metrics_helpers import (
    BATCHES,
    FAST_RETRY,
    Staged,
    assert_exported_once,
    drop_schema,
    land,
    query,
    write_pipeline,
)

from harness.postgres import PostgresInfo, provide_postgres
from harness.postgres.local_files import LocalPaths
from harness.state import StateLayout
from pipeline.metrics.config import ConnectionSettings, connection_settings, parse_metrics_config
from pipeline.metrics.failures import is_transient
from pipeline.metrics.identifiers import sql_identifier
from pipeline.metrics.migrate import apply_migrations
from pipeline.metrics.postgres_export import PostgresExporter

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

EXPORTER_LOGIN = "metrics_export_login"


def admin(info: PostgresInfo, statement: str, params: tuple[object, ...] = ()) -> None:
    conn = info.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
    finally:
        conn.close()


def exporter_login(info: PostgresInfo, schema: str, password: str) -> PostgresInfo:
    """A LOGIN role whose only privileges come from membership in metrics_exporter (migration 0002),
    on ``schema`` migrated by the administrator."""
    drop_schema(info, schema)
    conn = info.connect()
    try:
        apply_migrations(conn, schema)
    finally:
        conn.close()
    admin(
        info,
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{EXPORTER_LOGIN}') THEN "
        f"CREATE ROLE {EXPORTER_LOGIN} LOGIN; END IF; END $$",
    )
    admin(
        info,
        f"ALTER ROLE {EXPORTER_LOGIN} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s",
        (password,),
    )
    admin(info, f"GRANT metrics_exporter TO {EXPORTER_LOGIN}")
    return replace(info, user=EXPORTER_LOGIN, password=password, passfile=None)


# --- least privilege ---------------------------------------------------------------------------------


def test_least_privilege_role_exports_and_is_refused_everything_else(
    staged: Staged, metrics_pg: PostgresInfo, tmp_path: Path
) -> None:
    schema = "m_least"
    login = exporter_login(metrics_pg, schema, secrets.token_urlsafe(16))
    admin(metrics_pg, "DROP SCHEMA IF EXISTS m_secret CASCADE")
    admin(
        metrics_pg,
        "CREATE SCHEMA m_secret; CREATE TABLE m_secret.salaries (n int); INSERT INTO m_secret.salaries VALUES (1)",
    )
    ex = PostgresExporter(
        login.connect, schema=schema, dead_letter_dir=tmp_path / "dl", retry=FAST_RETRY, batch_updates=1
    )
    report = ex.export(staged.run.pipeline_id, staged.since)
    ex.close()
    assert report.ok and report.batches == 2, report.error
    assert_exported_once(metrics_pg, schema, staged)

    refused = {
        "drop table": f"DROP TABLE {schema}.flow_metrics",
        "delete": f"DELETE FROM {schema}.flow_metrics",
        "truncate": f"TRUNCATE {schema}.dead_letters",
        "create table": f"CREATE TABLE {schema}.evil (n int)",
        "alter table": f"ALTER TABLE {schema}.pipeline_updates ADD COLUMN evil int",
        "other schema": "SELECT * FROM m_secret.salaries",
        "create schema": "CREATE SCHEMA evil",
        "create role": "CREATE ROLE evil LOGIN",
        "grant": f"GRANT metrics_exporter TO {EXPORTER_LOGIN}",
    }
    codes = {}
    conn = login.connect()
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT current_user, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
            )
            assert cur.fetchone() == (EXPORTER_LOGIN, False, False)
            for what, statement in refused.items():
                try:
                    cur.execute(statement)
                except psycopg2.Error as exc:
                    codes[what] = exc.pgcode
                else:
                    codes[what] = "ACCEPTED"
    finally:
        conn.close()
    assert codes == dict.fromkeys(refused, "42501"), codes  # insufficient_privilege, every one
    assert query(metrics_pg, f"SELECT count(*) FROM {schema}.flow_metrics") == [(6,)]


def test_quote_ident_renders_as_psycopg2_sql_identifier(metrics_pg: PostgresInfo) -> None:
    from pipeline.metrics.identifiers import quote_ident

    conn = metrics_pg.connect()
    try:
        for name in ("pipeline_monitoring", "M_x1", "_a"):
            assert quote_ident(name) == sql_identifier(name).as_string(conn)
    finally:
        conn.close()


# --- sslmode -------------------------------------------------------------------------------------------


def test_sslmode_reaches_libpq(metrics_pg: PostgresInfo) -> None:
    """The wheel's server is built without OpenSSL: sslmode=require is refused by the client (so the
    setting reached libpq) and the refusal is not retried; disable connects without SSL."""
    base = ConnectionSettings(
        metrics_pg.host, metrics_pg.port, metrics_pg.database, metrics_pg.user, password=metrics_pg.password
    )
    with pytest.raises(psycopg2.OperationalError) as err:
        replace(base, sslmode="require").connect(connect_timeout=5)
    assert "SSL" in str(err.value) and not is_transient(err.value)
    conn = replace(base, sslmode="disable").connect(connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            assert cur.fetchone() == (False,)
    finally:
        conn.close()


def _openssl_server_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin")):
        if (candidate / "postgres").is_file() and (candidate / "initdb").is_file():
            return candidate
    return None


@pytest.mark.skipif(
    _openssl_server_bin() is None or shutil.which("openssl") is None,
    reason="needs a PostgreSQL built with OpenSSL (/usr/lib/postgresql/*/bin, e.g. apt-get install postgresql) and openssl",
)
def test_sslmode_require_against_a_local_ssl_server(
    staged: Staged, fresh_pg_state: StateLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A self-signed certificate, ssl=on (ALTER SYSTEM + reload) on a local server from Debian's
    binaries; the export section with sslmode=require connects over TLS and exports."""
    monkeypatch.setenv("HARNESS_PG_BIN", str(_openssl_server_bin()))
    with provide_postgres(fresh_pg_state, prefer="local") as pg:
        data = LocalPaths(fresh_pg_state.postgres_dir).data
        owner = data.stat()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-keyout", str(data / "server.key"), "-out", str(data / "server.crt")],
            check=True, capture_output=True,
        )  # fmt: skip
        for name in ("server.key", "server.crt"):
            os.chown(data / name, owner.st_uid, owner.st_gid)
            (data / name).chmod(0o600)
        conn = pg.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("ALTER SYSTEM SET ssl = on")
                cur.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()
        export = parse_metrics_config({"export": {
            "host": pg.host, "port": pg.port, "database": pg.database, "user": pg.user,
            "sslmode": "require", "password_env": "SSL_TEST_PASSWORD", "schema": "m_ssl"}}
        ).export  # fmt: skip
        settings = connection_settings(export, environ={"SSL_TEST_PASSWORD": pg.password or ""})
        assert settings.connect_kwargs()["sslmode"] == "require"
        conn = settings.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                ssl, version = cur.fetchone()
            assert ssl is True and version.startswith("TLS")
        finally:
            conn.close()
        ex = PostgresExporter(
            settings.connect, schema="m_ssl", dead_letter_dir=tmp_path / "dl", retry=FAST_RETRY
        )
        report = ex.export(staged.run.pipeline_id, staged.since)
        ex.close()
        assert report.ok, report.error
        assert_exported_once(pg, "m_ssl", staged)


# --- no credential in any output ------------------------------------------------------------------------


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}


def _leaks(secrets_: list[str], texts: dict[str, str], root: Path) -> list[str]:
    found = []
    forms = {form for s in secrets_ for form in _forms(s)}
    for where, text in texts.items():
        found += [f"{where}: {form!r}" for form in forms if form in text]
    for path in root.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            found += [f"{path}: {form!r}" for form in forms if form.encode() in blob]
    return found


@pytest.fixture
def secret_flow(tmp_path: Path) -> Iterator[Path]:
    """A fresh pipeline folder and state under tmp_path (scanned as a whole afterwards)."""
    root, settings = write_pipeline(tmp_path, "metrics_secret")
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    yield root


def test_no_credential_in_any_output(
    secret_flow: Path,
    local_metrics_pg: PostgresInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`harness run` exporting with a password (in the DSN, URL-encoded), an auth failure on the way,
    a re-drive with the password in the environment: neither password (nor its URL-encoded forms)
    appears in any file under the state and pipeline folders, stdout/stderr, log records or
    exception texts. Local server only: its cost is `harness run`, the same for any server."""
    from harness.cli.main import main
    from harness.pipeline import LocalPipeline
    from pipeline.metrics.config import parse_metrics_config
    from pipeline.metrics.job import connector

    schema = "m_secret_flow"
    password = "p@ss:w/rd %&" + secrets.token_urlsafe(12)
    wrong = "wr0ng@:/ %" + secrets.token_urlsafe(12)
    login = exporter_login(local_metrics_pg, schema, password)
    state = tmp_path / "state"
    settings = str(tmp_path / "settings.json")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "export": {"enabled": True, "schema": schema, "host": login.host, "port": login.port,
                   "database": login.database, "user": login.user, "sslmode": "disable",
                   "password_env": "METRICS_TEST_PASSWORD"},
        "cost": {"dbu_per_core_hour": 0.75, "usd_per_dbu": 0.55},
    }))  # fmt: skip
    caplog.set_level(logging.DEBUG)
    spark_pipeline = LocalPipeline(secret_flow, settings, state=str(state))
    land(spark_pipeline.volume_path("/Volumes/main/raw/landing/orders"), 0, BATCHES[0])

    def url(secret: str) -> str:
        return f"postgresql://{login.user}:{quote(secret, safe='')}@{login.host}:{login.port}/{login.database}?sslmode=disable"

    common = ["--settings", settings, "--config", str(config), "--state", str(state)]
    # 1. run, its export connecting through HARNESS_PG_DSN with the WRONG password: the run succeeds,
    #    the export is refused before anything is staged (the provider checks the login) and says so
    monkeypatch.setenv("HARNESS_PG_DSN", url(wrong))
    assert main(["run", str(secret_flow), *common]) == 0
    first = capsys.readouterr()
    assert "Warning: no metrics export" in first.err and "password authentication failed" in first.err
    # 2. export from the config's own settings, wrong password in password_env: staged, refused (not
    #    retried), dead-lettered, exit 1; the error names user@host:port/database
    monkeypatch.delenv("HARNESS_PG_DSN")
    monkeypatch.setenv("METRICS_TEST_PASSWORD", wrong)
    assert main(["export-metrics", str(secret_flow), *common, "--connect-from-config"]) == 1
    second = capsys.readouterr()
    assert "password authentication failed" in second.err
    assert f"{login.user}@{login.host}:{login.port}/{login.database}" in second.err
    assert len(list(state.rglob("dead_letters/*/*-*.json"))) == 1
    # 3. re-drive with the right password in a --dsn URL (URL-encoded)
    assert main(["redrive-dead-letters", str(secret_flow), *common, "--dsn", url(password)]) == 0
    # 4. the next update exports through HARNESS_PG_DSN with the right password
    land(spark_pipeline.volume_path("/Volumes/main/raw/landing/orders"), 1, BATCHES[1])
    monkeypatch.setenv("HARNESS_PG_DSN", url(password))
    assert main(["run", str(secret_flow), *common]) == 0
    third = capsys.readouterr()
    assert "Metrics export:" in third.out and "Warning" not in third.err
    assert query(local_metrics_pg, f"SELECT count(*) FROM {schema}.pipeline_updates") == [(2,)]
    assert query(
        local_metrics_pg, f"SELECT count(*) FROM {schema}.dead_letters WHERE redriven_at IS NOT NULL"
    ) == [(1,)]
    assert list(state.rglob("dead_letters/*/*-*.json")) == []

    # exception texts, as a caller would see them
    exceptions = []
    for secret in (password, wrong):
        monkeypatch.setenv("METRICS_TEST_PASSWORD", secret)
        cfg = parse_metrics_config(json.loads(config.read_text()))
        try:
            conn = connector(replace(cfg, export=replace(cfg.export, user="nobody_here")))()
            conn.close()
        except psycopg2.Error as exc:
            exceptions.append("".join(traceback.format_exception(exc)))
        settings_obj = connection_settings(cfg.export)
        exceptions += [repr(settings_obj), str(settings_obj), settings_obj.describe(), repr(cfg)]
    assert len(exceptions) == 10
    texts = {
        **{f"stdout {i}": c.out for i, c in enumerate((first, second, third))},
        **{f"stderr {i}": c.err for i, c in enumerate((first, second, third))},
        "log records": "\n".join(
            f"{r.getMessage()} {r.exc_text or ''} {''.join(traceback.format_exception(*r.exc_info)) if r.exc_info else ''}"
            for r in caplog.records
        ),
        "exceptions": "\n".join(exceptions),
    }
    leaks = _leaks([password, wrong], texts, tmp_path)
    assert leaks == []
    assert len([p for p in state.rglob("*") if p.is_file()]) > 20, "the state directory was scanned"
    # the scanner finds what it looks for: an encoded form in a text, a raw one in a file
    (tmp_path / "control").mkdir()
    (tmp_path / "control" / "leak.txt").write_text(f"x{wrong}x")
    assert len(_leaks([password, wrong], {"c": quote(password, safe="")}, tmp_path / "control")) == 2
