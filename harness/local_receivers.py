"""Local receivers for notifications: an HTTP webhook receiver (Slack) and an SMTP receiver (e-mail).

The notification tests talk to them, and the e2e job catches the dev configuration's e-mail
(``localhost:1025``, the usual mail-catcher port) with one, so alerts are delivered and shown in its
report instead of failing against a server that is not there.

The SMTP receiver is a small socketserver-based implementation of the commands smtplib uses (EHLO,
HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) rather than ``aiosmtpd``: it is ~80 lines,
adds no dependency, and lets a test check the credentials the client sent.
"""

from __future__ import annotations

import base64
import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def _serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Serve in a daemon thread while the block runs; shut down and release the port afterwards."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class WebhookServer:
    """Records every POST; answers with the statuses queued in ``replies`` (then 200 "ok")."""

    port: int
    requests: list[dict] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)


@contextmanager
def webhook_server(replies: list[int] | None = None) -> Iterator[WebhookServer]:
    state = WebhookServer(port=0, replies=list(replies or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(
                {"path": self.path, "content_type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            status = state.replies.pop(0) if state.replies else 200
            payload = b"ok" if status == 200 else b"invalid_payload" if status == 400 else b"busy"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    with _serving(server):
        yield state


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_to: list[str]
    message: Message
    auth: tuple[str, str] | None


@dataclass
class SmtpServer:
    port: int
    mails: list[ReceivedMail] = field(default_factory=list)
    credentials: tuple[str, str] | None = None


class _ReusableTCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # a fixed port (1025) must be free again right after a run
    daemon_threads = True


@contextmanager
def smtp_server(credentials: tuple[str, str] | None = None, port: int = 0) -> Iterator[SmtpServer]:
    """An SMTP receiver on 127.0.0.1 (``port`` 0: a free one); with ``credentials`` it checks AUTH PLAIN."""
    state = SmtpServer(port=port, credentials=credentials)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 localhost test SMTP")
            mail_from, rcpts, auth = "", [], None
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    self.reply("250-localhost")
                    if state.credentials:
                        self.reply("250-AUTH PLAIN")
                    self.reply("250 8BITMIME")
                elif verb == "HELO":
                    self.reply("250 localhost")
                elif verb == "AUTH":
                    _, user, password = base64.b64decode(line.split()[2]).decode().split("\0")
                    if (user, password) == state.credentials:
                        auth = (user, password)
                        self.reply("235 2.7.0 Authentication successful")
                    else:
                        self.reply("535 5.7.8 Authentication credentials invalid")
                elif verb == "MAIL":
                    if state.credentials and auth is None:
                        self.reply("530 5.7.0 Authentication required")
                        continue
                    mail_from = line.split(":", 1)[1].split()[0].strip("<>")
                    self.reply("250 OK")
                elif verb == "RCPT":
                    rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    data = bytearray()
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    state.mails.append(ReceivedMail(mail_from, rcpts, message_from_bytes(bytes(data)), auth))
                    mail_from, rcpts = "", []
                    self.reply("250 OK queued")
                elif verb in ("RSET", "NOOP"):
                    self.reply("250 OK")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:
                    self.reply("502 Command not implemented")

    server = _ReusableTCPServer(("127.0.0.1", port), Handler)
    state.port = server.server_address[1]
    with _serving(server):
        yield state
