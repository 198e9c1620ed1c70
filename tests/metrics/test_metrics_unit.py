"""Pure-Python parts of the metrics package: configuration, expressions, batching, upsert SQL,
migration files, error classification (no JVM, no database)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg2
import pytest

from pipeline.metrics.batches import Batch, dedupe, make_batches, upsert_sql
from pipeline.metrics.config import (
    CostSettings,
    connection_settings,
    load_metrics_config,
    parse_metrics_config,
)
from pipeline.metrics.failures import is_transient
from pipeline.metrics.migrate import load_migrations
from pipeline.metrics.pipeline_metrics import (
    EVENT_COLUMNS,
    NATURAL_KEYS,
    TABLE_COLUMNS,
    cost_expressions,
    estimate_cost,
)
from pipeline.utils.errors import ConfigError, MigrationError

pytestmark = pytest.mark.unit

FULL = {
    "export": {
        "enabled": True,
        "host": "db.internal",
        "port": 6543,
        "database": "monitoring",
        "user": "exporter",
        "sslmode": "require",
        "schema": "pipeline_monitoring",
        "password_env": "METRICS_PG_PASSWORD",
        "secret_scope": "monitoring",
        "secret_key": "pg-password",
    },
    "cost": {"dbu_per_core_hour": 0.75, "usd_per_dbu": 0.55},
    "sla": {"freshness_minutes": {"silver_orders": 30}, "max_update_duration_minutes": 20},
    "pipeline": {"anything": "else belongs to other sections"},
}


def test_full_config_parses_into_frozen_settings() -> None:
    config = parse_metrics_config(FULL)
    assert config.export.host == "db.internal" and config.export.port == 6543
    assert config.export.schema == "pipeline_monitoring" and config.export.enabled is True
    assert config.cost == CostSettings(0.75, 0.55)
    assert dict(config.sla.freshness_minutes) == {"silver_orders": 30.0}
    assert config.sla.max_update_duration_minutes == 20.0
    with pytest.raises(AttributeError):
        config.export.host = "x"  # type: ignore[misc]


def test_defaults_when_sections_are_missing() -> None:
    config = parse_metrics_config({})
    assert config.export.enabled is False and config.export.schema == "pipeline_monitoring"
    assert config.cost.dbu_per_core_hour == 0.0 and not config.sla.freshness_minutes


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"export": {"hots": "x"}}, "export.hots"),
        ({"export": {"port": "5432"}}, "export.port"),
        ({"export": {"enabled": "yes"}}, "export.enabled"),
        ({"export": {"sslmode": "sometimes"}}, "export.sslmode"),
        ({"export": {"schema": "drop table;"}}, "export.schema"),
        ({"export": {"secret_scope": "s"}}, "export.secret_scope"),
        ({"cost": {"usd_per_dbu": -1}}, "cost.usd_per_dbu"),
        ({"sla": {"freshness_minutes": {"t": 0}}}, "sla.freshness_minutes.t"),
        ({"sla": {"max_update_minutes": 3}}, "sla.max_update_minutes"),
    ],
)
def test_bad_settings_name_the_key(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_metrics_config(raw)
    assert err.value.key == key


def test_jdbc_url_as_lakebase_shows_it() -> None:
    config = parse_metrics_config(
        {
            "export": {
                "jdbc_url": "jdbc:postgresql://instance-1.database.cloud.databricks.com:5432/databricks_postgres"
                "?user=me%40example.com&ssl=true&tcpKeepAlive=true",
            }
        }
    )
    e = config.export
    assert (e.host, e.port, e.database, e.user, e.sslmode) == (
        "instance-1.database.cloud.databricks.com",
        5432,
        "databricks_postgres",
        "me@example.com",
        "require",
    )


def test_jdbc_url_with_a_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as err:
        parse_metrics_config({"export": {"jdbc_url": "jdbc:postgresql://h:5432/d?user=u&password=hunter2"}})
    assert err.value.key == "export.jdbc_url"
    assert "hunter2" not in str(err.value) and "hunter2" not in repr(err.value.fields)


def test_jdbc_url_contradicting_host_is_an_error() -> None:
    with pytest.raises(ConfigError) as err:
        parse_metrics_config({"export": {"host": "a", "jdbc_url": "jdbc:postgresql://b:5432/d"}})
    assert err.value.key == "export.host"


def test_password_from_environment_or_secret_scope_and_never_in_repr() -> None:
    config = parse_metrics_config(FULL)
    local = connection_settings(config.export, environ={"METRICS_PG_PASSWORD": "s3cret"})
    assert local.password == "s3cret" and local.connect_kwargs()["password"] == "s3cret"
    assert "s3cret" not in repr(local) and "s3cret" not in local.describe()
    calls = []
    remote = connection_settings(
        config.export, environ={}, secrets_get=lambda scope, key: calls.append((scope, key)) or "from-scope"
    )
    assert remote.password == "from-scope" and calls == [("monitoring", "pg-password")]
    assert "from-scope" not in repr(remote)


def test_connection_needs_a_host() -> None:
    with pytest.raises(ConfigError) as err:
        connection_settings(parse_metrics_config({}).export)
    assert err.value.key == "export.host"


def test_load_metrics_config_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_metrics_config(tmp_path / "nope.json")
    assert err.value.key == "config"
    (tmp_path / "c.json").write_text(json.dumps(FULL))
    assert load_metrics_config(tmp_path / "c.json").export.user == "exporter"


# --- expressions ---------------------------------------------------------------------------------


def test_event_expressions_read_databricks_json_paths() -> None:
    assert EVENT_COLUMNS["num_output_rows"] == (
        "try_cast(get_json_object(details, '$.flow_progress.metrics.num_output_rows') AS BIGINT)"
    )
    assert "$.flow_progress.data_quality.dropped_records" in EVENT_COLUMNS["dropped_records"]
    assert "$.update_progress.state" in EVENT_COLUMNS["update_state"]
    assert EVENT_COLUMNS["error_class"] == "get_json_object(error, '$.exceptions[0].class_name')"
    # no Databricks-only colon syntax anywhere
    assert not any(re.search(r"details:", sql) for sql in EVENT_COLUMNS.values())


def test_cost_formula_in_sql_and_python_agree() -> None:
    cost = CostSettings(dbu_per_core_hour=0.75, usd_per_dbu=0.55)
    exprs = cost_expressions(cost)
    assert exprs["dbus"] == "core_seconds / 3600.0 * 0.75"
    core_seconds = 7200.0
    dbus, usd = estimate_cost(core_seconds, cost)
    assert dbus == pytest.approx(eval(exprs["dbus"], {"core_seconds": core_seconds}))  # plain arithmetic
    assert usd == pytest.approx(eval(exprs["cost_usd"], {"core_seconds": core_seconds}))
    assert (dbus, usd) == pytest.approx((1.5, 0.825))


def test_natural_keys_are_columns_of_their_tables() -> None:
    for table, key in NATURAL_KEYS.items():
        if table == "lineage_edges":
            assert set(key) <= set(TABLE_COLUMNS[table])
        else:
            assert set(key) <= set(TABLE_COLUMNS[table]) and "update_seq" in TABLE_COLUMNS[table]


# --- batching and upserts -----------------------------------------------------------------------


def _rows(updates: list[tuple[str, int]]) -> dict[str, list[dict]]:
    return {
        "pipeline_updates": [{"pipeline_id": "p", "update_id": u, "update_seq": s} for u, s in updates],
        "flow_metrics": [
            {"pipeline_id": "p", "update_id": u, "flow_name": f, "update_seq": s}
            for u, s in updates
            for f in "ab"
        ],
        "lineage_edges": [
            {
                "pipeline_id": "p",
                "update_id": u,
                "flow_name": "b",
                "flow_type": "INCREMENTAL",
                "source_dataset": "a",
                "target_dataset": "b",
                "seen_at": f"t{s}",
                "update_seq": s,
            }
            for u, s in updates
        ],
    }


def test_batches_follow_update_order_and_carry_their_rows() -> None:
    batches = make_batches("p", _rows([("u3", 30), ("u1", 10), ("u2", 20)]), batch_updates=2)
    assert [b.update_ids for b in batches] == [("u1", "u2"), ("u3",)]
    assert [(b.first_seq, b.last_seq) for b in batches] == [(10, 20), (30, 30)]
    assert len(batches[0].rows["flow_metrics"]) == 4 and batches[1].batch_id == "000000000030-000000000030"
    assert Batch.from_json(json.loads(json.dumps(batches[0].to_json()))) == batches[0]


def test_dedupe_keeps_one_row_per_key_and_merges_lineage() -> None:
    rows = _rows([("u1", 10), ("u2", 20)])
    flows = rows["flow_metrics"] + [dict(rows["flow_metrics"][0])]
    assert len(dedupe("flow_metrics", flows)) == 4
    (edge,) = dedupe("lineage_edges", rows["lineage_edges"])
    assert (edge["first_seen_update_id"], edge["first_seen_seq"]) == ("u1", 10)
    assert (edge["last_seen_update_id"], edge["last_seen_seq"], edge["last_seen_at"]) == ("u2", 20, "t20")


def test_upsert_sql_targets_the_natural_key_and_skips_identical_replays() -> None:
    sql, columns = upsert_sql("pipeline_monitoring", "quality_metrics")
    assert "ON CONFLICT (pipeline_id, update_id, flow_name, dataset_name, expectation_name)" in sql
    assert "quality_rate" not in columns  # a generated column in PostgreSQL
    assert "IS DISTINCT FROM" in sql and "t.update_seq <= EXCLUDED.update_seq" in sql
    assert sql.startswith('INSERT INTO "pipeline_monitoring"."quality_metrics" AS t')
    lineage, _ = upsert_sql("s", "lineage_edges")
    assert "GREATEST(t.last_seen_seq, EXCLUDED.last_seen_seq)" in lineage


def test_transient_errors_are_connection_and_operational_ones() -> None:
    assert is_transient(psycopg2.OperationalError("could not connect to server: Connection refused"))
    assert is_transient(psycopg2.InterfaceError("connection already closed"))
    assert is_transient(TimeoutError("timed out"))
    assert not is_transient(psycopg2.errors.UniqueViolation("duplicate key"))
    assert not is_transient(ValueError("bad row"))


# --- migration files -----------------------------------------------------------------------------


def test_migration_files_are_numbered_and_checksummed() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "metrics_tables" and len(migrations[0].checksum) == 64
    ddl = migrations[0].sql
    for table in (
        "pipeline_updates",
        "flow_metrics",
        "quality_metrics",
        "lineage_edges",
        "sla_status",
        "export_watermarks",
        "dead_letters",
    ):
        assert f"CREATE TABLE {table} (" in ddl


def test_migration_file_names_are_checked(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("SELECT 1;")
    (tmp_path / "2_bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError) as err:
        load_migrations(tmp_path)
    assert err.value.name == "2_bad"
    (tmp_path / "2_bad.sql").unlink()
    (tmp_path / "0001_twice.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError) as err:
        load_migrations(tmp_path)
    assert err.value.version == 1


def test_describe_target_reads_bound_methods_and_declared_wrappers_only() -> None:
    """The target comes from the connect function's owner or from what a wrapper says it wraps
    (``functools.wraps``), never from a closure's cells."""
    import functools

    from pipeline.metrics.config import ConnectionSettings
    from pipeline.metrics.connection import describe_target

    settings = ConnectionSettings(host="db.internal", port=6543, database="metrics", user="w")
    assert describe_target(settings.connect) == "w@db.internal:6543/metrics"

    @functools.wraps(settings.connect)
    def declared() -> object:
        return settings.connect()

    def undeclared() -> object:
        return settings.connect()

    assert describe_target(declared) == "w@db.internal:6543/metrics"
    assert describe_target(undeclared) is None
