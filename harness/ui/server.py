"""The pipeline page's HTTP server: loopback only, GET only, JSON views over the event log.

Routes (all read-only):

- ``/``                        the page (assets below are inline-free files shipped in the package)
- ``/assets/<name>``           app.js, app.css (a fixed list: no file-system path comes from a request)
- ``/api/pipelines``           pipelines in the state directory and the one shown first
- ``/api/overview?pipeline=``  graph nodes/edges, updates, event-log version (polled for live refresh)
- ``/api/version?pipeline=``   the event log's Delta version (cheap; the page polls it)
- ``/api/graph.svg?pipeline=`` the graph laid out by Graphviz
- ``/api/flow?pipeline=&name=``  one flow across updates
- ``/api/events?pipeline=&level=&event_type=&flow=&update=&limit=``

Defences: the socket binds 127.0.0.1 only; requests whose ``Host`` is not this loopback address
are refused (DNS rebinding); a Content-Security-Policy of ``'self'`` keeps the page from loading
or sending anything elsewhere; pipeline names are checked to stay inside the state directory.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness.errors import (
    GraphvizNotFoundError,
    HarnessError,
    OutsideStateDirError,
    PortInUseError,
    UnknownPipelineError,
)
from harness.ui.data import StateData

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def asset(name: str) -> bytes:
    return resources.files("harness.ui").joinpath("assets", name).read_bytes()


@dataclass(frozen=True)
class Page:
    """What the server serves besides the data: the first pipeline and an optional extra script."""

    first_pipeline: str
    #: JavaScript served as /assets/extra.js and run after app.js (the browser tests' probes)
    extra_script: str | None = None


class PageHandler(BaseHTTPRequestHandler):
    server: PageServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # --- plumbing -------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value, default=str).encode(), "application/json; charset=utf-8")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json({"error": message, "status": status.value}, status.value)

    def _host_ok(self) -> bool:
        port = self.server.server_address[1]
        host = (self.headers.get("Host") or "").lower()
        return host in (f"{LOOPBACK}:{port}", f"localhost:{port}")

    # --- methods --------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "only http://127.0.0.1 may use this page")
            return
        try:
            self._route()
        except OutsideStateDirError as exc:
            self._error(HTTPStatus.FORBIDDEN, str(exc))
        except UnknownPipelineError as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
        except GraphvizNotFoundError as exc:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
        except HarnessError as exc:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _refuse(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "the pipeline page is read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _route(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        data, page = self.server.data, self.server.page
        if url.path in ("/", "/index.html"):
            html = asset("index.html").decode()
            if page.extra_script is not None:
                html = html.replace("</body>", '<script src="/assets/extra.js"></script></body>')
            self._send(200, html.encode(), "text/html; charset=utf-8")
        elif url.path.startswith("/assets/"):
            name = url.path.removeprefix("/assets/")
            if name == "extra.js" and page.extra_script is not None:
                self._send(200, page.extra_script.encode(), ASSETS["app.js"])
            elif name in ASSETS:
                self._send(200, asset(name), ASSETS[name])
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no asset {name!r}")
        elif url.path == "/api/pipelines":
            self._json({"pipelines": data.pipeline_names(), "first": page.first_pipeline})
        elif url.path.startswith("/api/"):
            pipeline = data.pipeline(query.get("pipeline") or page.first_pipeline)
            self._api(url.path.removeprefix("/api/"), pipeline, query)
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no page {url.path!r}")

    def _api(self, name: str, pipeline: Any, query: dict[str, str]) -> None:
        if name == "overview":
            self._json(pipeline.overview())
        elif name == "version":
            self._json({"version": pipeline.version()})
        elif name == "graph.svg":
            self._send(200, pipeline.graph_svg(), "image/svg+xml; charset=utf-8")
        elif name == "flow":
            self._json(pipeline.flow(query.get("name", "")))
        elif name == "events":
            self._json(
                pipeline.events(
                    level=query.get("level") or None,
                    event_type=query.get("event_type") or None,
                    flow=query.get("flow") or None,
                    update=query.get("update") or None,
                    limit=max(0, min(int(query.get("limit") or 500), 5000)),
                )
            )
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no view {name!r}")


class PageServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 that serves one state directory's pipeline pages."""

    daemon_threads = True

    def __init__(self, data: StateData, page: Page, port: int = 0) -> None:
        self.data = data
        self.page = page
        #: the latest paths requested, in order (the browser tests read them)
        self.requests: deque[str] = deque(maxlen=2000)
        super().__init__((LOOPBACK, port), PageHandler)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}/"

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="harness-ui", daemon=True)
        thread.start()
        return thread


def serve(data: StateData, page: Page, port: int, ready: Callable[[str], None]) -> None:
    """Serve until interrupted; `ready` receives the URL once the socket listens."""
    try:
        server = PageServer(data, page, port)
    except OSError as exc:
        raise PortInUseError(port, exc.strerror or str(exc)) from exc
    try:
        ready(server.url)
        server.serve_forever()
    finally:
        server.server_close()
