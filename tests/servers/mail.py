"""Real loopback servers for notification tests: an SMTP server and an HTTP SMS/webhook gateway.

Loaded as a pytest plugin by ``tests/conftest.py``. The servers live for the whole session
(starting them is the slow part); the function-scoped fixtures hand them out emptied, so each
test sees only what it sent.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from badgewatch.config import SmsConfig, SmtpConfig

LOOPBACK = "127.0.0.1"
SMTP_USER = "badgewatch"
SMTP_PASSWORD = "s3cret-pass-4711"  # errors must never show it


# --- SMTP -----------------------------------------------------------------------------------


@dataclass
class _MailHandler:
    """aiosmtpd handler that parses each message the way a mail reader would."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Accepts exactly SMTP_USER / SMTP_PASSWORD, the way a real relay would check."""
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            if login == SMTP_USER and auth_data.password == SMTP_PASSWORD.encode("utf-8"):
                with self.lock:
                    self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class _LoopbackController(Controller):
    """A Controller on a socket bound before start, so the free port is never raced for."""

    def __init__(self, handler: _MailHandler) -> None:
        self._socket = socket.create_server((LOOPBACK, 0))
        super().__init__(
            handler,
            hostname=LOOPBACK,
            port=self._socket.getsockname()[1],
            authenticator=handler.authenticate,
            auth_require_tls=False,  # loopback tests speak plain SMTP; AUTH is still checked
            auth_required=False,
        )

    def _create_server(self) -> Awaitable[Any]:
        return self.loop.create_server(self._factory_invoker, sock=self._socket)


class SmtpServer:
    """A running SMTP server; ``messages`` holds what it accepted, decoded."""

    def __init__(self) -> None:
        self._handler = _MailHandler()
        self._controller = _LoopbackController(self._handler)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TO list) of each accepted message."""
        with self._handler.lock:
            return list(self._handler.envelopes)

    @property
    def logins(self) -> list[str]:
        with self._handler.lock:
            return list(self._handler.logins)

    def clear(self) -> None:
        with self._handler.lock:
            self._handler.messages.clear()
            self._handler.envelopes.clear()
            self._handler.logins.clear()


# --- HTTP gateway ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One accepted POST: its path, parsed JSON body and request headers."""

    path: str
    body: Any
    headers: dict[str, str]


class _GatewayState:
    """What the gateway received and how it should answer; shared by its handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.rejected = 0
        self.fail_remaining = 0
        self.fail_status = HTTPStatus.INTERNAL_SERVER_ERROR


class _GatewayHandler(BaseHTTPRequestHandler):
    server: _GatewayServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest output is for failures, not access logs."""

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
        if self.path not in ("/sms", "/webhook"):
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})
            return
        with state.lock:
            failing = state.fail_remaining > 0
            if failing:
                state.fail_remaining -= 1
                state.rejected += 1
        if failing:
            self._answer(state.fail_status, {"error": "gateway unavailable (test switch)"})
            return
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": f"not UTF-8 JSON: {exc}"})
            return
        with state.lock:
            state.received.append(Received(self.path, body, dict(self.headers.items())))
        if self.path == "/webhook":
            self._answer(HTTPStatus.OK, {"errcode": 0, "errmsg": "ok"})
        else:
            self._answer(HTTPStatus.OK, {"status": "queued"})


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _GatewayHandler)
        self.state = _GatewayState()


class SmsGateway:
    """A running HTTP gateway taking SMS at ``/sms`` and robot messages at ``/webhook``."""

    def __init__(self) -> None:
        self._server = _GatewayServer()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sms-gateway", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def sms_url(self) -> str:
        return f"{self.base_url}/sms"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhook"

    def _bodies(self, path: str) -> list[Any]:
        with self._server.state.lock:
            return [r.body for r in self._server.state.received if r.path == path]

    @property
    def received(self) -> list[Received]:
        with self._server.state.lock:
            return list(self._server.state.received)

    @property
    def sms(self) -> list[Any]:
        """JSON bodies accepted at /sms, in arrival order."""
        return self._bodies("/sms")

    @property
    def webhook(self) -> list[Any]:
        """JSON bodies accepted at /webhook, in arrival order."""
        return self._bodies("/webhook")

    @property
    def rejected(self) -> int:
        """How many requests the failure switch answered with an error."""
        with self._server.state.lock:
            return self._server.state.rejected

    def fail_next(self, count: int, status: int = HTTPStatus.INTERNAL_SERVER_ERROR) -> None:
        """Answer the next ``count`` POSTs with ``status`` (and record nothing for them)."""
        with self._server.state.lock:
            self._server.state.fail_remaining = count
            self._server.state.fail_status = HTTPStatus(status)

    def clear(self) -> None:
        with self._server.state.lock:
            self._server.state.received.clear()
            self._server.state.rejected = 0
            self._server.state.fail_remaining = 0
            self._server.state.fail_status = HTTPStatus.INTERNAL_SERVER_ERROR


# --- configuration helpers ------------------------------------------------------------------


def smtp_config_for(server: SmtpServer, **overrides: Any) -> SmtpConfig:
    """An [smtp] section aimed at the test server (overrides: username, password, ...)."""
    settings: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "sender": "badgewatch@conac.test",
        "timeout": 5.0,
    }
    settings.update(overrides)
    return SmtpConfig(**settings)


def login_smtp_config_for(server: SmtpServer, password: str = SMTP_PASSWORD) -> SmtpConfig:
    """An [smtp] section that logs in with the test server's account."""
    return smtp_config_for(server, username=SMTP_USER, password=password)


def sms_config_for(gateway: SmsGateway, token: str | None = None, **overrides: Any) -> SmsConfig:
    """An [sms] section aimed at the test gateway's /sms endpoint."""
    settings: dict[str, Any] = {"kind": "http", "url": gateway.sms_url, "token": token}
    settings.setdefault("timeout", 5.0)
    settings.update(overrides)
    return SmsConfig(**settings)


def free_port() -> int:
    """A loopback port nobody listens on (for "server is down" tests)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_server_session() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(smtp_server_session: SmtpServer) -> SmtpServer:
    """The session's SMTP server, emptied for this test."""
    smtp_server_session.clear()
    return smtp_server_session


@pytest.fixture(scope="session")
def sms_gateway_session() -> Iterator[SmsGateway]:
    gateway = SmsGateway()
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture
def sms_gateway(sms_gateway_session: SmsGateway) -> Iterator[SmsGateway]:
    """The session's HTTP gateway, emptied and answering normally for this test."""
    sms_gateway_session.clear()
    yield sms_gateway_session
    sms_gateway_session.clear()
