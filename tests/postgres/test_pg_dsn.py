"""Provider (a): HARNESS_PG_DSN in libpq URL, key=value and JDBC forms."""

from __future__ import annotations

import pytest

from harness.errors import PostgresConfigError
from harness.postgres import parse_dsn, parse_jdbc_url, redact_dsn
from harness.postgres.dsn import info_from_environment

pytestmark = pytest.mark.unit

SECRET = "Sup3r-Secret"


def test_libpq_url() -> None:
    info = parse_dsn("postgresql://alice@db.internal:6543/metrics?sslmode=verify-full&connect_timeout=4", {})
    assert (info.provider, info.host, info.port, info.database, info.user, info.sslmode) == (
        "env",
        "db.internal",
        6543,
        "metrics",
        "alice",
        "verify-full",
    )
    assert info.options == (("connect_timeout", "4"),)
    assert info.password is None


def test_key_value_string_with_password_keeps_it_hidden() -> None:
    info = parse_dsn(f"host=h1 port=5432 dbname=d user=u password={SECRET}", {})
    assert info.password == SECRET
    assert SECRET not in repr(info) and SECRET not in info.dsn()


def test_lakebase_jdbc_url() -> None:
    url = (
        "jdbc:postgresql://instance-1a2b.database.cloud.databricks.com:5432/databricks_postgres"
        "?user=first.last%40example.com&sslmode=require&prepareThreshold=0"
    )
    info = parse_dsn(url, {"HARNESS_PG_PASSWORD": SECRET})
    assert info.host == "instance-1a2b.database.cloud.databricks.com"
    assert info.port == 5432
    assert info.database == "databricks_postgres"
    assert info.user == "first.last@example.com"
    assert info.sslmode == "require"
    assert info.password == SECRET
    assert info.options == ()  # pgjdbc-only parameters are dropped
    assert info.jdbc_url() == (
        "jdbc:postgresql://instance-1a2b.database.cloud.databricks.com:5432/databricks_postgres"
        "?user=first.last%40example.com&sslmode=require"
    )


def test_jdbc_url_details() -> None:
    assert parse_jdbc_url("jdbc:postgresql://h/db?ssl=true&ApplicationName=harness") == {
        "host": "h",
        "dbname": "db",
        "sslmode": "require",
        "application_name": "harness",
    }
    info = parse_dsn("jdbc:postgresql://[::1]:5999/x?user=u", {})
    assert (info.host, info.port) == ("::1", 5999)


def test_jdbc_url_with_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(PostgresConfigError) as caught:
        parse_dsn(f"jdbc:postgresql://h:5432/db?user=u&password={SECRET}&sslmode=require", {})
    err = caught.value
    assert err.variable == "HARNESS_PG_DSN"
    assert "HARNESS_PG_PASSWORD" in err.reason
    assert SECRET not in str(err) and SECRET not in err.value
    assert "password=***" in err.value


@pytest.mark.parametrize(
    "dsn",
    [
        "jdbc:mysql://h/db",
        "jdbc:postgresql://u@h/db",
        "jdbc:postgresql://h1,h2/db",
        "jdbc:postgresql://h:notaport/db",
        "host=a,b dbname=x",
        "   ",
    ],
)
def test_unusable_dsns_raise_config_errors(dsn: str) -> None:
    with pytest.raises(PostgresConfigError) as caught:
        parse_dsn(dsn, {})
    assert caught.value.variable == "HARNESS_PG_DSN"


def test_invalid_libpq_string_error_does_not_quote_the_password() -> None:
    with pytest.raises(PostgresConfigError) as caught:
        parse_dsn(f"host=h password={SECRET} broken", {})
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.fields)


def test_password_precedence_and_libpq_defaults() -> None:
    env = {"PGHOST": "pghost", "PGPORT": "7000", "PGUSER": "bob", "PGPASSWORD": "from-pgpassword"}
    info = parse_dsn("dbname=metrics", env)
    assert (info.host, info.port, info.user, info.database) == ("pghost", 7000, "bob", "metrics")
    assert info.password == "from-pgpassword"
    assert parse_dsn("dbname=m password=in-dsn", env).password == "in-dsn"
    env["HARNESS_PG_PASSWORD"] = "from-harness"
    assert parse_dsn("dbname=m password=in-dsn", env).password == "from-harness"
    assert parse_dsn("user=carol", {}).database == "carol"
    assert parse_dsn("user=carol", {}).host == "localhost"  # TCP, not libpq's Unix socket


def test_info_from_environment() -> None:
    assert info_from_environment({}) is None
    assert info_from_environment({"HARNESS_PG_DSN": "  "}) is None
    info = info_from_environment({"HARNESS_PG_DSN": "postgresql://u@h/d"})
    assert info is not None and info.host == "h"


def test_redact_dsn_covers_all_forms() -> None:
    for text in (
        f"postgresql://u:{SECRET}@h/d",
        f"host=h password={SECRET} user=u",
        f"host=h password='{SECRET} x' user=u",
        f"jdbc:postgresql://h/d?user=u&password={SECRET}",
    ):
        assert SECRET not in redact_dsn(text)
        assert "***" in redact_dsn(text)
