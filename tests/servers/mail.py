"""Real loopback servers for notification tests: an SMTP server and an HTTP SMS/webhook gateway.

Loaded as a pytest plugin by ``tests/conftest.py``. The servers themselves are the product's
``testbed.sinks``; here they live for the whole session (starting them is the slow part) and
the function-scoped fixtures hand them out emptied, so each test sees only what it sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from badgewatch.config import SmsConfig, SmtpConfig
from testbed.sinks import LocalHttpSink, LocalSmtpSink, free_port

__all__ = [
    "SMTP_PASSWORD",
    "SMTP_USER",
    "SmsGateway",
    "SmtpServer",
    "free_port",
    "login_smtp_config_for",
    "sms_config_for",
    "smtp_config_for",
]

SMTP_USER = "badgewatch"
SMTP_PASSWORD = "s3cret-pass-4711"  # errors must never show it

SmtpServer = LocalSmtpSink
SmsGateway = LocalHttpSink


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


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_server_session() -> Iterator[SmtpServer]:
    with LocalSmtpSink(username=SMTP_USER, password=SMTP_PASSWORD) as server:
        yield server


@pytest.fixture
def smtp_server(smtp_server_session: SmtpServer) -> SmtpServer:
    """The session's SMTP server, emptied for this test."""
    smtp_server_session.clear()
    return smtp_server_session


@pytest.fixture(scope="session")
def sms_gateway_session() -> Iterator[SmsGateway]:
    with LocalHttpSink() as gateway:
        yield gateway


@pytest.fixture
def sms_gateway(sms_gateway_session: SmsGateway) -> Iterator[SmsGateway]:
    """The session's HTTP gateway, emptied and answering normally for this test."""
    sms_gateway_session.clear()
    yield sms_gateway_session
    sms_gateway_session.clear()
