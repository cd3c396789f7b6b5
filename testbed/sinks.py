"""Local stand-ins for the mail server and the SMS gateway, on loopback.

The demo runs the product against these so that nothing leaves the machine; the tests use them
the same way (``tests/servers/mail.py`` wraps them in pytest fixtures). Both are real servers
speaking SMTP and HTTP, and both bind their socket when constructed, so the port they report is
theirs from the start and is never raced for.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from testbed.serving import Serving

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (for "server is down" cases)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


# --- SMTP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message: its envelope and the message decoded the way a mail reader would."""

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
    """aiosmtpd handler that keeps each message and checks AUTH against one account."""

    username: str | None = None
    password: str | None = None
    received: list[ReceivedMail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        mail = ReceivedMail(
            sender=str(envelope.mail_from),
            recipients=list(envelope.rcpt_tos),
            message=message_from_bytes(raw, policy=policy.default),
        )
        with self.lock:
            self.received.append(mail)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Accepts exactly the configured account, the way a real relay would check."""
        if self.username is not None and isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            if login == self.username and auth_data.password == (self.password or "").encode():
                with self.lock:
                    self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class _BoundController(Controller):
    """A Controller serving a socket bound before start, so its port is never raced for."""

    def __init__(self, handler: _MailHandler, host: str, port: int) -> None:
        self._socket = socket.create_server((host, port))
        super().__init__(
            handler,
            hostname=host,
            port=self._socket.getsockname()[1],
            authenticator=handler.authenticate,
            auth_require_tls=False,  # loopback speaks plain SMTP; AUTH is still checked
            auth_required=False,
        )

    def _create_server(self) -> Awaitable[Any]:
        return self.loop.create_server(self._factory_invoker, sock=self._socket)

    def close_socket(self) -> None:
        self._socket.close()


class LocalSmtpSink(Serving):
    """An SMTP server on loopback that keeps every message it receives.

    With ``username`` and ``password`` it accepts AUTH for that account only (and records each
    login); without them every AUTH attempt is refused. Logging in is never required.
    """

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._handler = _MailHandler(username=username, password=password)
        self._controller = _BoundController(self._handler, host, port)
        self.host = host

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def received(self) -> list[ReceivedMail]:
        """Every accepted message with its envelope, in arrival order."""
        with self._handler.lock:
            return list(self._handler.received)

    @property
    def messages(self) -> list[EmailMessage]:
        """The accepted messages, decoded."""
        return [mail.message for mail in self.received]

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TO list) of each accepted message."""
        return [(mail.sender, list(mail.recipients)) for mail in self.received]

    @property
    def logins(self) -> list[str]:
        """The user name of each successful AUTH."""
        with self._handler.lock:
            return list(self._handler.logins)

    def clear(self) -> None:
        with self._handler.lock:
            self._handler.received.clear()
            self._handler.logins.clear()

    def start(self) -> LocalSmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        try:
            self._controller.stop()
        finally:
            self._controller.close_socket()


# --- HTTP gateway ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedPost:
    """One accepted POST: its path, parsed JSON body and request headers."""

    path: str
    body: Any
    headers: dict[str, str]


class _GatewayState:
    """What the gateway received and how it should answer; shared by its handler threads."""

    def __init__(self, paths: frozenset[str] | None) -> None:
        self.paths = paths
        self.lock = threading.Lock()
        self.received: list[ReceivedPost] = []
        self.rejected = 0
        self.fail_remaining = 0
        self.fail_status = HTTPStatus.INTERNAL_SERVER_ERROR

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.rejected = 0
            self.fail_remaining = 0
            self.fail_status = HTTPStatus.INTERNAL_SERVER_ERROR


class _GatewayHandler(BaseHTTPRequestHandler):
    server: _GatewayServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no access log on the console."""

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if state.paths is not None and self.path not in state.paths:
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})
            return
        with state.lock:
            failing = state.fail_remaining > 0
            if failing:
                state.fail_remaining -= 1
                state.rejected += 1
            status = state.fail_status
        if failing:
            self._answer(status, {"error": "gateway unavailable (test switch)"})
            return
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": f"not UTF-8 JSON: {exc}"})
            return
        with state.lock:
            state.received.append(ReceivedPost(self.path, body, dict(self.headers.items())))
        if self.path == "/webhook":
            self._answer(HTTPStatus.OK, {"errcode": 0, "errmsg": "ok"})
        else:
            self._answer(HTTPStatus.OK, {"status": "queued"})


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, paths: frozenset[str] | None) -> None:
        super().__init__((host, port), _GatewayHandler)
        self.state = _GatewayState(paths)


class LocalHttpSink(Serving):
    """An HTTP server on loopback that records JSON POSTs: SMS at ``/sms``, robots at ``/webhook``.

    Other paths answer 404 (``paths=None`` accepts every path); bodies that are not UTF-8 JSON
    answer 400. ``fail_next(n, status)`` makes the next n requests answer ``status`` (500 by
    default) and record nothing, to exercise retries; ``rejected`` counts those answers.
    """

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        paths: Iterable[str] | None = ("/sms", "/webhook"),
    ) -> None:
        self.host = host
        self._server = _GatewayServer(host, port, None if paths is None else frozenset(paths))
        self._state = self._server.state
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-http-sink", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @property
    def sms_url(self) -> str:
        return self.url("/sms")

    @property
    def webhook_url(self) -> str:
        return self.url("/webhook")

    @property
    def received(self) -> list[ReceivedPost]:
        """Every accepted POST, in arrival order."""
        with self._state.lock:
            return list(self._state.received)

    def posts(self, path: str | None = None) -> list[ReceivedPost]:
        """The accepted POSTs to ``path`` (all of them without it)."""
        return [p for p in self.received if path is None or p.path == path]

    @property
    def sms(self) -> list[Any]:
        """JSON bodies accepted at /sms, in arrival order."""
        return [p.body for p in self.posts("/sms")]

    @property
    def webhook(self) -> list[Any]:
        """JSON bodies accepted at /webhook, in arrival order."""
        return [p.body for p in self.posts("/webhook")]

    @property
    def rejected(self) -> int:
        """How many requests the failure switch answered with an error."""
        with self._state.lock:
            return self._state.rejected

    def fail_next(self, count: int, status: int = HTTPStatus.INTERNAL_SERVER_ERROR) -> None:
        """Answer the next ``count`` POSTs with ``status`` (and record nothing for them)."""
        with self._state.lock:
            self._state.fail_remaining = count
            self._state.fail_status = HTTPStatus(status)

    def clear(self) -> None:
        """Forget what was received and answer normally again."""
        self._state.reset()

    def start(self) -> LocalHttpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

