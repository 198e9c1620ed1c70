"""Security of the metrics export without a server: identifiers from configuration are validated before
they reach SQL text, and sslmode travels from the prod configuration to the connection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.metrics.config import connection_settings, load_metrics_config, parse_metrics_config
from pipeline.metrics.failures import is_transient
from pipeline.metrics.identifiers import check_identifier, quote_ident
from pipeline.metrics.migrate import applied_versions, apply_migrations
from pipeline.metrics.postgres_export import PostgresExporter
from pipeline.metrics.staging import MetricsStaging
from pipeline.utils.errors import ConfigError

pytestmark = pytest.mark.unit

INJECTION = 'metrics"; DROP SCHEMA x; --'
CONFIGS = Path(__file__).resolve().parents[2] / "pipeline" / "configurations"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("schema", INJECTION),
        ("schema", "pipeline monitoring"),
        ("schema", "1metrics"),
        ("schema", "x" * 64),
        ("staging_schema", 'main.monitoring"; DROP TABLE t; --'),
        ("staging_schema", "monitoring"),
    ],
)
def test_identifiers_in_the_export_section_are_rejected_by_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_metrics_config({"export": {key: value}})
    assert (err.value.key, err.value.value) == (f"export.{key}", value)
    assert f"export.{key}" in str(err.value) and repr(value) in str(err.value)


def test_identifiers_are_checked_again_where_they_reach_sql() -> None:
    """Callers that bypass the config parser (a job building objects itself) meet the same check."""
    with pytest.raises(ConfigError) as exporter:
        PostgresExporter(lambda: None, schema=INJECTION, dead_letter_dir="/nonexistent")
    with pytest.raises(ConfigError) as migrate:
        apply_migrations(None, INJECTION)  # raises before touching the connection
    with pytest.raises(ConfigError) as versions:
        applied_versions(None, INJECTION)
    with pytest.raises(ConfigError) as staging:
        MetricsStaging(None, schema="main.x; DROP TABLE y")
    assert {e.value.key for e in (exporter, migrate, versions)} == {"export.schema"}
    assert staging.value.key == "export.staging_schema"
    assert exporter.value.value == INJECTION


def test_env_config_identifiers_are_validated() -> None:
    from pipeline.utils.config_manager import ConfigError, config_from_mapping

    base = json.loads((CONFIGS / "dev_config.json").read_text())
    for path in (("export", "schema"), ("catalog",), ("schema",), ("volume",)):
        data = json.loads(json.dumps(base))
        holder = data
        for part in path[:-1]:
            holder = holder[part]
        holder[path[-1]] = INJECTION
        with pytest.raises(ConfigError) as err:
            config_from_mapping(data, "dev_config.json", "dev")
        assert err.value.key == ".".join(path) and INJECTION in str(err.value)


def test_monitoring_rejects_an_injected_schema() -> None:
    from pipeline.monitoring.alert_store import record_alerts

    with pytest.raises(ConfigError) as err:
        record_alerts(None, [], now=None, schema=INJECTION)  # type: ignore[arg-type]
    assert INJECTION in str(err.value)


def test_quote_ident_quotes_only_plain_names() -> None:
    assert quote_ident("pipeline_monitoring") == '"pipeline_monitoring"'
    assert check_identifier("export.schema", "_m1") == "_m1"
    with pytest.raises(ConfigError):
        quote_ident('a"b')


def test_prod_config_requires_ssl_and_the_connection_carries_it() -> None:
    config = load_metrics_config(CONFIGS / "prod_config.json")
    assert config.export.sslmode == "require"
    settings = connection_settings(config.export, environ={config.export.password_env: "s3cret"})
    kwargs = settings.connect_kwargs()
    assert kwargs["sslmode"] == "require" and kwargs["host"] == config.export.host
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.describe()
    from pipeline.utils.config_manager import load_config

    assert load_config("prod").section("export")["sslmode"] == "require"
    for env in ("dev", "staging"):  # configurable per environment
        assert load_metrics_config(CONFIGS / f"{env}_config.json").export.sslmode in (
            "disable",
            "prefer",
            "require",
        )


def test_sslmode_from_a_jdbc_url_and_invalid_modes() -> None:
    url = "jdbc:postgresql://db.example:5432/metrics?user=w&ssl=true"
    assert parse_metrics_config({"export": {"jdbc_url": url}}).export.sslmode == "require"
    with pytest.raises(ConfigError) as err:
        parse_metrics_config({"export": {"sslmode": "on"}})
    assert err.value.key == "export.sslmode"


def test_refused_logins_are_not_transient() -> None:
    import psycopg2

    for text in (
        'connection to server at "h", port 5432 failed: FATAL:  password authentication failed for user "u"',
        'connection to server at "h", port 5432 failed: FATAL:  database "nodb" does not exist',
        'connection to server at "h", port 5432 failed: server does not support SSL, but SSL was required',
    ):
        assert not is_transient(psycopg2.OperationalError(text)), text
    refused = 'connection to server at "h", port 5432 failed: Connection refused'
    assert is_transient(psycopg2.OperationalError(refused))
