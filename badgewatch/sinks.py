"""Local stand-ins for the mail server and the SMS gateway, on loopback.

The demo runs the product against these so that nothing leaves the machine; the tests use them
the same way. Both are real servers speaking SMTP and HTTP.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["subject"])

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return "" if body is None else cast(str, body.get_content())


@dataclass
class _MailHandler:
    received: list[ReceivedMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        mail = ReceivedMail(
            sender=str(envelope.mail_from), recipients=list(envelope.rcpt_tos), message=message
        )
        with self.lock:
            self.received.append(mail)
        return "250 OK"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class LocalSmtpSink:
    """An SMTP server on loopback that keeps every message it receives."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = _MailHandler()
        self.host = host
        self.port = port or free_port(host)
        self._controller = Controller(self._handler, hostname=host, port=self.port)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._handler.lock:
            return list(self._handler.received)

    def clear(self) -> None:
        with self._handler.lock:
            self._handler.received.clear()

    def start(self) -> LocalSmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> LocalSmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class ReceivedPost:
    path: str
    headers: dict[str, str]
    body: Any


class LocalHttpSink:
    """An HTTP server on loopback that records JSON POSTs (SMS gateway, webhook robot).

    ``fail_next(n)`` makes the next n requests answer 500, to exercise retries.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[ReceivedPost] = []
        self._lock = threading.Lock()
        self._failures = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with sink._lock:
                    if sink._failures > 0:
                        sink._failures -= 1
                        status = 500
                    else:
                        status = 200
                        try:
                            body: Any = json.loads(raw.decode("utf-8"))
                        except (UnicodeDecodeError, json.JSONDecodeError):
                            body = raw.decode("utf-8", "replace")
                        sink.received.append(
                            ReceivedPost(self.path, dict(self.headers.items()), body)
                        )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b'{"ok": false}')

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.host = host

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def posts(self, path: str | None = None) -> list[ReceivedPost]:
        with self._lock:
            return [p for p in self.received if path is None or p.path == path]

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self._failures = 0

    def start(self) -> LocalHttpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalHttpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
