"""Notices from the web app go out when the action that queued them commits, as at the command
line: the issuance notice reaches the local SMTP and SMS servers, a dead mail server costs the
page at most its timeout and leaves the mail in the outbox (the page says so), and a 验证码 is
masked in the outbox once sent."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from badgewatch.config import load_config
from notify.outbox import MASK
from store.db import transaction
from store.models import Application, AppState, OutboxMessage, OutboxStatus
from tests.servers.mail import SmsGateway, SmtpServer
from tests.webapp import SECRET, Clock, World, csrf_token, log_in, populate
from web.app import create_app

SMTP_TIMEOUT = 1.0


@pytest.fixture
def world(sqlite_url: str) -> World:
    return populate(sqlite_url)


def _app(url: str, sms_gateway: SmsGateway, smtp_port: int) -> Flask:
    config = load_config(environ={
        "BADGEWATCH_DATABASE_URL": url,
        "BADGEWATCH_RENDER_ENABLED": "false",
        "BADGEWATCH_SMS_URL": sms_gateway.sms_url,
        "BADGEWATCH_SMTP_HOST": "127.0.0.1",
        "BADGEWATCH_SMTP_PORT": str(smtp_port),
        "BADGEWATCH_SMTP_TIMEOUT": str(SMTP_TIMEOUT),
    })
    app = create_app(config, secret_key=SECRET, clock=Clock())
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(sqlite_url: str, world: World, sms_gateway: SmsGateway,
        smtp_server: SmtpServer) -> Iterator[Flask]:
    app = _app(sqlite_url, sms_gateway, smtp_server.port)
    yield app
    app.extensions["badgewatch"].close()


@pytest.fixture
def silent_smtp() -> Iterator[int]:
    """A port that accepts connections and never says a word, as a hung mail server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def _client(app: Flask, login: str) -> FlaskClient:
    client = app.test_client()
    log_in(client, login)
    return client


def _decide(client: FlaskClient, url: str) -> Any:
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, "decision": "approve"},
                       follow_redirects=True)


def _approve_online(app: Flask, world: World) -> tuple[FlaskClient, int]:
    """The office's and CONAC's 审核通过 on 杭州数据网; the office's client to confirm with."""
    office, conac = _client(app, "hz-office"), _client(app, "conac")
    hz = world.applications["hz"]
    _decide(office, f"/office/applications/{hz}/review")
    _decide(conac, f"/conac/applications/{hz}/review")
    return office, hz


def _outbox(app: Flask) -> list[OutboxMessage]:
    with transaction(app.extensions["badgewatch"].sessions) as db:
        rows = list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.expunge_all()
        return rows


def _identifier(app: Flask, application_id: int) -> str:
    with transaction(app.extensions["badgewatch"].sessions) as db:
        application = db.get(Application, application_id)
        assert application is not None and application.state is AppState.ISSUED
        assert application.site is not None
        return application.site.identifier


def test_confirming_the_materials_sends_the_issuance_notice_at_once(
    app: Flask, world: World, smtp_server: SmtpServer, sms_gateway: SmsGateway
) -> None:
    office, hz = _approve_online(app, world)
    sms_gateway.clear()
    response = _decide(office, f"/office/applications/{hz}/materials")
    assert response.status_code == 200
    assert "暂时未能发出" not in response.get_data(as_text=True)
    identifier = _identifier(app, hz)
    [mail] = smtp_server.received
    assert identifier in mail.text
    assert smtp_server.envelopes[0][1] == ["handler@hz.example.cn"]
    [sms] = sms_gateway.sms
    assert sms["phone"] == "13905710001"  # as the form stored it
    assert identifier in sms["message"]
    assert {row.status for row in _outbox(app)} == {OutboxStatus.SENT}


def test_a_hung_mail_server_costs_the_page_its_timeout_and_the_mail_stays_queued(
    sqlite_url: str, world: World, sms_gateway: SmsGateway, silent_smtp: int
) -> None:
    app = _app(sqlite_url, sms_gateway, silent_smtp)
    try:
        office, hz = _approve_online(app, world)
        sms_gateway.clear()
        started = time.monotonic()
        response = _decide(office, f"/office/applications/{hz}/materials")
        took = time.monotonic() - started
        html = response.get_data(as_text=True)
        assert _identifier(app, hz)  # the decision stands
        assert "通知邮件或短信暂时未能发出，系统将稍后自动重试。" in html
        assert took < SMTP_TIMEOUT + 3
        email, sms = _outbox(app)
        assert email.channel == "email" and email.status is OutboxStatus.PENDING
        assert email.last_error is not None and "timed out" in email.last_error
        assert sms.status is OutboxStatus.SENT
        assert len(sms_gateway.sms) == 1
    finally:
        app.extensions["badgewatch"].close()


def _ask_code(app: Flask) -> str:
    client = _client(app, "hz-unit")
    page = client.get("/unit/applications/new")
    assert page.status_code == 200
    response = client.post("/unit/applications/new", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "action": "code",
        "handler_mobile": "13905710009"}, follow_redirects=True)
    return response.get_data(as_text=True)


def test_a_sent_code_is_masked_in_the_outbox(app: Flask, sms_gateway: SmsGateway) -> None:
    html = _ask_code(app)
    assert "验证码已发送" in html
    match = re.search(r"验证码为 (\d{6})", sms_gateway.sms[-1]["message"])
    assert match
    [row] = _outbox(app)
    assert row.status is OutboxStatus.SENT
    assert match.group(1) not in row.body
    assert f"验证码为 {MASK}" in row.body
    assert row.redact is None


def test_a_code_that_could_not_be_sent_is_not_said_sent(
    app: Flask, sms_gateway: SmsGateway
) -> None:
    sms_gateway.fail_next(1)
    html = _ask_code(app)
    assert "验证码已发送" not in html
    assert "验证码短信暂时未能发出" in html
    [row] = _outbox(app)
    assert row.status is OutboxStatus.PENDING and row.redact is not None
