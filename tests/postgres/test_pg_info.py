"""PostgresInfo renders every connection form without leaking the password."""

from __future__ import annotations

import pytest

from harness.postgres import PostgresInfo

pytestmark = pytest.mark.unit

SECRET = "s3cr et'\\pw"


def make_info(**overrides: object) -> PostgresInfo:
    values: dict[str, object] = {
        "provider": "env",
        "host": "db.example.com",
        "port": 5433,
        "database": "metrics db",
        "user": "me@example.com",
        "sslmode": "require",
        "password": SECRET,
        "options": (("connect_timeout", "7"), ("target_session_attrs", "read-write")),
    }
    values.update(overrides)
    return PostgresInfo(**values)  # type: ignore[arg-type]


def test_repr_and_str_hide_the_password() -> None:
    info = make_info()
    for text in (repr(info), str(info), info.dsn(), info.jdbc_url(), f"{info}", f"{info!r}"):
        assert SECRET not in text
        assert "s3cr" not in text
    assert "password='***'" in repr(info)
    assert "password=None" in repr(make_info(password=None))


def test_dsn_is_a_valid_libpq_string_and_includes_the_password_only_on_request() -> None:
    from psycopg2.extensions import parse_dsn

    info = make_info()
    plain = parse_dsn(info.dsn())
    assert plain == {
        "host": "db.example.com",
        "port": "5433",
        "dbname": "metrics db",
        "user": "me@example.com",
        "sslmode": "require",
        "connect_timeout": "7",
        "target_session_attrs": "read-write",
    }
    assert parse_dsn(info.dsn(include_password=True))["password"] == SECRET


def test_jdbc_url_and_properties() -> None:
    info = make_info()
    assert info.jdbc_url() == (
        "jdbc:postgresql://db.example.com:5433/metrics%20db?user=me%40example.com&sslmode=require"
        "&connectTimeout=7&targetServerType=read-write"
    )
    assert info.jdbc_properties() == {
        "user": "me@example.com",
        "driver": "org.postgresql.Driver",
        "password": SECRET,
    }
    assert make_info(host="::1").jdbc_url().startswith("jdbc:postgresql://[::1]:5433/")


def test_connect_kwargs_carry_the_password_and_an_integer_port() -> None:
    kwargs = make_info().connect_kwargs()
    assert kwargs["password"] == SECRET
    assert kwargs["port"] == 5433
    assert kwargs["dbname"] == "metrics db"
    assert "password" not in make_info(password=None).connect_kwargs()


def test_with_database_keeps_credentials() -> None:
    other = make_info().with_database("postgres")
    assert other.database == "postgres"
    assert other.password == SECRET
    assert other.address == "db.example.com:5433"
