"""Provider (b) detection: a fake Docker engine on a real socket that does or does not answer."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from harness.postgres import probe_docker
from harness.postgres.docker import DOCKER_PROBE_TIMEOUT, reply_has_ok

pytestmark = pytest.mark.unit


def unix_socket(tmp_path: Path) -> tuple[str, socket.socket]:
    path = tmp_path / "docker.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    return f"unix://{path}", sock


def test_answering_unix_socket_is_detected(tmp_path: Path, docker_engine) -> None:
    endpoint, sock = unix_socket(tmp_path)
    with docker_engine(sock, "ok") as requests:
        probe = probe_docker({"DOCKER_HOST": endpoint})
    assert probe.available, probe.reason
    assert probe.endpoint == endpoint
    assert requests and requests[0].startswith(b"GET /_ping HTTP/1.0\r\n")


def test_answering_tcp_engine_is_detected(docker_engine) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with docker_engine(sock, "ok"):
        probe = probe_docker({"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert probe.available, probe.reason


def test_error_reply_means_not_available(tmp_path: Path, docker_engine) -> None:
    endpoint, sock = unix_socket(tmp_path)
    with docker_engine(sock, "error"):
        probe = probe_docker({"DOCKER_HOST": endpoint})
    assert not probe.available
    assert "500" in probe.reason


def test_silent_engine_is_given_up_within_the_time_bound(tmp_path: Path, docker_engine) -> None:
    endpoint, sock = unix_socket(tmp_path)
    with docker_engine(sock, "silent"):
        began = time.monotonic()
        probe = probe_docker({"DOCKER_HOST": endpoint})
        elapsed = time.monotonic() - began
    assert not probe.available
    assert "no answer" in probe.reason
    assert DOCKER_PROBE_TIMEOUT - 0.1 <= elapsed <= DOCKER_PROBE_TIMEOUT + 0.5


def test_missing_socket_fails_fast(tmp_path: Path) -> None:
    probe = probe_docker({"DOCKER_HOST": f"unix://{tmp_path / 'absent.sock'}"})
    assert not probe.available
    assert "cannot connect" in probe.reason
    assert probe.elapsed < 0.5


def test_closed_tcp_port_fails_fast() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the block ends
    probe = probe_docker({"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert not probe.available
    assert probe.elapsed < 0.5


def test_default_endpoint_and_unprobed_schemes() -> None:
    assert probe_docker({}).endpoint == "unix:///var/run/docker.sock"
    probe = probe_docker({"DOCKER_HOST": "ssh://me@remote"})
    assert not probe.available
    assert "not probed" in probe.reason


def test_reply_parsing() -> None:
    assert reply_has_ok(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
    assert reply_has_ok(b"HTTP/1.0 200 OK\r\n\r\nOK\n")
    assert not reply_has_ok(b"HTTP/1.1 500 Internal Server Error\r\n\r\nerror")
    assert not reply_has_ok(b"")
    assert not reply_has_ok(b"HTTP/1.1 200 OK\r\n\r\n{}")
