"""Provider (a) for real: HARNESS_PG_DSN in each form, pointed at a server of provider (c)."""

from __future__ import annotations

import logging

import pytest

from harness.errors import PostgresUnavailableError
from harness.postgres import PostgresInfo, provide_postgres
from harness.state import StateLayout

pytestmark = pytest.mark.postgres


def dsn_forms(pg: PostgresInfo) -> dict[str, dict[str, str]]:
    """Environment variables naming ``pg`` in each accepted form; the password travels separately."""
    assert pg.password
    return {
        "url": {
            "HARNESS_PG_DSN": f"postgresql://{pg.user}@{pg.host}:{pg.port}/{pg.database}?sslmode=disable",
            "HARNESS_PG_PASSWORD": pg.password,
        },
        "key=value": {
            "HARNESS_PG_DSN": f"host={pg.host} port={pg.port} dbname={pg.database} user={pg.user}",
            "PGPASSWORD": pg.password,
        },
        "jdbc": {
            "HARNESS_PG_DSN": f"jdbc:postgresql://{pg.host}:{pg.port}/{pg.database}?user={pg.user}&sslmode=disable",
            "HARNESS_PG_PASSWORD": pg.password,
        },
    }


@pytest.mark.parametrize("form", ["url", "key=value", "jdbc"])
def test_dsn_from_the_environment_reaches_the_server(
    form: str,
    local_pg: PostgresInfo,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    table_copy_query,
) -> None:
    for name, value in dsn_forms(local_pg)[form].items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    with provide_postgres(StateLayout.at(tmp_path / "unused-state")) as info:
        assert info.provider == "env"
        assert (info.host, info.port, info.database, info.user) == (
            local_pg.host,
            local_pg.port,
            local_pg.database,
            local_pg.user,
        )
        table_copy_query(info, f"orders_env_{form.replace('=', '_')}")
    assert "PostgreSQL provider: env (HARNESS_PG_DSN is set)" in caplog.text
    assert local_pg.password not in caplog.text  # type: ignore[operator]
    assert not (tmp_path / "unused-state").exists()  # nothing started, nothing written


def test_wrong_password_fails_clearly_without_showing_either_password(
    local_pg: PostgresInfo, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Wrong-Pa55word-xyz"
    monkeypatch.setenv(
        "HARNESS_PG_DSN", f"postgresql://{local_pg.user}@{local_pg.host}:{local_pg.port}/harness"
    )
    monkeypatch.setenv("HARNESS_PG_PASSWORD", wrong)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PostgresUnavailableError) as caught, provide_postgres(StateLayout.at(tmp_path)):
        pass
    err = caught.value
    assert err.host == local_pg.address
    assert err.database == "harness"
    assert "password authentication failed" in err.reason
    assert "HARNESS_PG_DSN" in err.reason  # the hint
    for text in (str(err), repr(err.fields), caplog.text):
        assert wrong not in text
        assert local_pg.password not in text  # type: ignore[operator]


def test_unreachable_server_is_reported_with_host_and_database(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed: nothing listens there
    monkeypatch.setenv(
        "HARNESS_PG_DSN", f"host=127.0.0.1 port={port} dbname=metrics user=u password=TopSecret1"
    )
    with pytest.raises(PostgresUnavailableError) as caught, provide_postgres(StateLayout.at(tmp_path)):
        pass
    assert caught.value.host == f"127.0.0.1:{port}"
    assert caught.value.database == "metrics"
    assert "TopSecret1" not in str(caught.value)


def test_local_provider_logs_its_choice_and_never_the_password(
    fresh_state: StateLayout, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    # no DSN and no Docker engine (even where one runs, e.g. CI): the local server
    monkeypatch.setenv("DOCKER_HOST", f"unix://{fresh_state.root}/no-engine.sock")
    with provide_postgres(fresh_state) as info:
        assert info.provider == "local"
        assert info.password
    assert "PostgreSQL provider: local (HARNESS_PG_DSN is not set; no Docker engine at" in caplog.text
    assert "Started PostgreSQL 18" in caplog.text
    assert info.password not in caplog.text
    assert info.password not in (fresh_state.postgres_dir / "server.log").read_text()
