"""Headless Chromium (Debian's `chromium`) for the page tests: screenshots and a probe's results.

Chromium runs with a proxy that is a recorder on 127.0.0.1: the browser sends loopback requests
directly (its implicit bypass) and everything else to the recorder, which refuses it and keeps the
request line. So "no request leaves 127.0.0.1" is an observation, not a guess. Background traffic
of the browser itself is switched off by flags as far as Chromium allows; what remains (its
component updater and sign-in endpoints, which it contacts for about:blank too) is measured on
about:blank and told apart by host.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,NetworkTimeServiceQuerying",
    "--disable-breakpad",
    "--disable-component-extensions-with-background-pages",
    "--no-pings",
    "--password-store=basic",
    "--safebrowsing-disable-auto-update",
    "--window-size=1280,800",
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Recorder(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _RecorderHandler)


class _RecorderHandler(socketserver.StreamRequestHandler):
    server: _Recorder

    def handle(self) -> None:
        line = self.rfile.readline(4096).decode(errors="replace").strip()
        if line:
            self.server.seen.append(line)
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@contextmanager
def outbound_recorder() -> Iterator[_Recorder]:
    """A proxy on 127.0.0.1 that records and refuses every request sent to it."""
    recorder = _Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.shutdown()
        recorder.server_close()


def run_chromium(url: str, profile: Path, proxy_port: int, *extra: str, timeout: int = 120) -> str:
    """Chromium's stdout for one page load (the DOM with --dump-dom); virtual time lets timers run."""
    binary = chromium()
    assert binary is not None, "chromium is not installed (.ci/run installs it)"
    command = [
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{proxy_port}",
        "--virtual-time-budget=15000",
        *extra,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def request_host(line: str) -> str:
    """The host of a proxied request line (``CONNECT host:443 ...`` or ``GET http://host/... ...``)."""
    target = line.split()[1]
    if "://" in target:
        target = target.split("://", 1)[1]
    return target.split("/", 1)[0].rsplit(":", 1)[0]


def probe_results(dom: str) -> dict[str, Any]:
    """The JSON the probe wrote into <pre id="probe"> of a dumped DOM."""
    match = re.search(r'<pre id="probe"[^>]*>(.*?)</pre>', dom, re.S)
    assert match, "the probe wrote no results (page did not finish drawing?)"
    return json.loads(html.unescape(match.group(1)))


def screenshot(url: str, path: Path, profile: Path, proxy_port: int) -> Path:
    run_chromium(url, profile, proxy_port, f"--screenshot={path}")
    assert path.is_file() and path.stat().st_size > 10_000, f"no screenshot at {path}"
    return path
