"""The one JDBC URL parser (pipeline/config/jdbc.py), through both of its callers.

The metrics config (``export.jdbc_url``) and the harness (``HARNESS_PG_DSN``) once had a parser each,
and they disagreed; each case below is one on which they did, with the behaviour chosen
(docs/postgres.md, "JDBC URLs").
"""

from __future__ import annotations

import pytest

from harness.errors import PostgresConfigError
from harness.postgres import parse_dsn, parse_jdbc_url
from pipeline.config.jdbc import JdbcTarget
from pipeline.config.jdbc import parse_jdbc_url as parse_target
from pipeline.metrics.config import parse_metrics_config
from pipeline.utils.errors import ConfigError

pytestmark = pytest.mark.unit


def export(url: str, **keys: object) -> object:
    return parse_metrics_config({"export": {"jdbc_url": url, **keys}}).export


@pytest.mark.parametrize(
    "url",
    [
        "jdbc:postgresql://writer@db.example:5432/metrics",  # metrics used to take the user from here
        "jdbc:postgresql://db.example:notaport/metrics",  # metrics used to raise a bare ValueError
        "jdbc:postgresql:///metrics?user=w",  # no host: metrics used to accept it (host None)
        "jdbc:postgresql://a.example,b.example/metrics",
        "jdbc:mysql://db.example/metrics",
    ],
)
def test_urls_refused_by_both_callers_under_their_own_key(url: str) -> None:
    with pytest.raises(ConfigError) as config_error:
        export(url)
    assert config_error.value.key == "export.jdbc_url"
    with pytest.raises(PostgresConfigError) as dsn_error:
        parse_dsn(url, {})
    assert dsn_error.value.variable == "HARNESS_PG_DSN"


def test_a_password_in_the_userinfo_is_refused_and_never_echoed() -> None:
    url = "jdbc:postgresql://w:hunter2@db.example/metrics"
    with pytest.raises(ConfigError) as config_error:
        export(url)
    assert "hunter2" not in str(config_error.value) and "hunter2" not in repr(config_error.value.fields)
    with pytest.raises(PostgresConfigError) as dsn_error:
        parse_dsn(url, {})
    assert "hunter2" not in str(dsn_error.value)


@pytest.mark.parametrize(
    ("query", "sslmode"),
    [
        ("ssl=true", "require"),
        ("ssl=1", "require"),  # metrics used to ignore this spelling
        ("ssl", "require"),  # a bare parameter, as pgjdbc reads it
        ("ssl=false", None),
        ("ssl=true&sslmode=verify-full", "verify-full"),
        ("sslmode=disable&ssl=true", "disable"),  # sslmode wins, in any order
    ],
)
def test_ssl_parameters_mean_the_same_to_both_callers(query: str, sslmode: str | None) -> None:
    url = f"jdbc:postgresql://db.example/metrics?user=w&{query}"
    assert export(url).sslmode == sslmode  # type: ignore[attr-defined]
    assert parse_jdbc_url(url).get("sslmode") == sslmode


def test_a_url_without_port_leaves_the_configured_port_alone() -> None:
    """The metrics parser used to read a missing port as 5432 and then call export.port=6543 a contradiction."""
    settings = export("jdbc:postgresql://db.example/metrics?user=w", port=6543)
    assert (settings.host, settings.port, settings.database, settings.user) == (  # type: ignore[attr-defined]
        "db.example",
        6543,
        "metrics",
        "w",
    )
    assert export("jdbc:postgresql://db.example/metrics").port == 5432  # type: ignore[attr-defined]
    with pytest.raises(ConfigError) as error:
        export("jdbc:postgresql://db.example:5433/metrics", port=6543)
    assert error.value.key == "export.port"


def test_libpq_parameters_are_kept_and_pgjdbc_ones_dropped() -> None:
    target = parse_target(
        "jdbc:postgresql://[::1]:5999/m%20db?User=w&ApplicationName=jobs&sslrootcert=/ca.pem&prepareThreshold=0"
    )
    assert target == JdbcTarget("::1", 5999, "m db", "w", None, target.options)
    assert dict(target.options) == {"application_name": "jobs", "sslrootcert": "/ca.pem"}
    assert parse_jdbc_url("jdbc:postgresql://h/d?applicationName=jobs&tcpKeepAlive=true") == {
        "host": "h",
        "dbname": "d",
        "application_name": "jobs",
    }
