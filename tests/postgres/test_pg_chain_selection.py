"""The chain's order, with Docker detection faked by real sockets or a recorded probe."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.errors import PostgresConfigError
from harness.postgres import DockerProbe, choose_provider, probe_docker

pytestmark = pytest.mark.unit

UP = DockerProbe(True, "unix:///var/run/docker.sock", "answered /_ping with OK", 0.003)
DOWN = DockerProbe(False, "unix:///var/run/docker.sock", "cannot connect (No such file or directory)", 0.0)


def never_probe() -> DockerProbe:
    raise AssertionError("the Docker engine must not be probed when the choice does not depend on it")


def test_dsn_wins_without_probing_docker() -> None:
    choice = choose_provider(None, {"HARNESS_PG_DSN": "postgresql://u@h/d"}, never_probe)
    assert choice.provider == "env"
    assert "HARNESS_PG_DSN is set" in choice.reason


def test_docker_when_it_answers() -> None:
    choice = choose_provider(None, {}, lambda: UP)
    assert choice.provider == "docker"
    assert UP.endpoint in choice.reason


def test_local_when_docker_does_not_answer() -> None:
    choice = choose_provider(None, {}, lambda: DOWN)
    assert choice.provider == "local"
    assert DOWN.endpoint in choice.reason and DOWN.reason in choice.reason


@pytest.mark.parametrize("forced", ["local", "docker", "LOCAL "])
def test_prefer_overrides_the_order(forced: str) -> None:
    env = {"HARNESS_PG_DSN": "postgresql://u@h/d"}
    assert choose_provider(forced, env, never_probe).provider == forced.strip().lower()


def test_environment_variable_forces_a_provider() -> None:
    choice = choose_provider(None, {"HARNESS_PG_PROVIDER": "local"}, never_probe)
    assert choice.provider == "local"
    assert "HARNESS_PG_PROVIDER=local" in choice.reason


def test_prefer_env_without_a_dsn_is_a_config_error() -> None:
    with pytest.raises(PostgresConfigError) as caught:
        choose_provider("env", {}, never_probe)
    assert caught.value.variable == "HARNESS_PG_DSN"


def test_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(PostgresConfigError) as caught:
        choose_provider(None, {"HARNESS_PG_PROVIDER": "podman"}, never_probe)
    assert caught.value.variable == "HARNESS_PG_PROVIDER"
    assert caught.value.value == "podman"


def test_real_probe_of_a_fake_engine_selects_docker(tmp_path: Path, docker_engine) -> None:
    path = tmp_path / "engine.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    env = {"DOCKER_HOST": f"unix://{path}"}
    with docker_engine(sock, "ok"):
        choice = choose_provider(None, env, lambda: probe_docker(env))
    assert choice.provider == "docker"


def test_real_probe_of_a_missing_engine_selects_local(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path / 'none.sock'}"}
    choice = choose_provider(None, env, lambda: probe_docker(env))
    assert choice.provider == "local"


@pytest.mark.postgres
def test_engine_that_cannot_run_the_container_falls_back_to_local(
    tmp_path: Path,
    fresh_state,
    docker_engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The fake engine answers the probe, then Testcontainers' real client meets a closed socket."""
    import logging

    from harness.postgres import provide_postgres

    path = tmp_path / "engine.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    caplog.set_level(logging.INFO)
    with docker_engine(sock, "ok"):
        probe = probe_docker()
    assert probe.available
    monkeypatch.setattr("harness.postgres.chain.probe_docker", lambda env: probe)
    with provide_postgres(fresh_state) as info:
        assert info.provider == "local"
    assert "PostgreSQL provider: docker" in caplog.text
    assert "Falling back to the local server" in caplog.text
