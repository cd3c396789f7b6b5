"""Notifications against real loopback servers and real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config, NotifyConfig, SmsConfig, SmtpConfig
from notify.channels import (
    Channel,
    DeliveryError,
    EmailChannel,
    HttpSmsChannel,
    WebhookChannel,
    channels_from_config,
)
from notify.outbox import MASK, DeliveryReport, deliver_due, enqueue, queued_keys, retry_delay
from store.db import transaction
from store.models import OutboxMessage, OutboxStatus
from tests.servers.mail import (
    SMTP_PASSWORD,
    SMTP_USER,
    SmsGateway,
    SmtpServer,
    free_port,
    login_smtp_config_for,
    sms_config_for,
    smtp_config_for,
)

NOW = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)
SUBJECT = "【网站标识】您的网站标识代码已生成"
BODY = (
    "某某市人民政府办公室：\n"
    "您单位“某某市人民政府”网站（某某市.政务）的网站标识代码已生成，"
    "请在5个工作日内将代码放置在网站所有页面底部中间位置（</body> 之前）。\n"
)
SMS = "【网站标识】您单位网站标识代码已生成，请于5个工作日内放置。"
PHONE = "13800138000"
EMAIL = "经办人 <handler@example.gov.cn>"


def _rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def _queue(
    sessions: sessionmaker[Session],
    key: str,
    *,
    channel: str = "sms",
    recipient: str = PHONE,
    subject: str | None = None,
    body: str = SMS,
    now: datetime = NOW,
    redact: str | None = None,
) -> OutboxMessage | None:
    with transaction(sessions) as session:
        return enqueue(
            session,
            key=key,
            channel=channel,
            recipient=recipient,
            subject=subject,
            body=body,
            now=now,
            redact=redact,
        )


# --- channels -------------------------------------------------------------------------------


def test_email_arrives_with_chinese_subject_and_body_decoded(smtp_server: SmtpServer) -> None:
    EmailChannel(smtp_config_for(smtp_server)).send(EMAIL, SUBJECT, BODY)

    [message] = smtp_server.messages
    assert message["Subject"] == SUBJECT
    assert message["To"] == EMAIL
    assert message["From"] == "badgewatch@conac.test"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == BODY
    assert smtp_server.envelopes == [("badgewatch@conac.test", ["handler@example.gov.cn"])]


def test_email_logs_in_when_configured_and_hides_the_password(smtp_server: SmtpServer) -> None:
    EmailChannel(login_smtp_config_for(smtp_server)).send(EMAIL, SUBJECT, BODY)
    assert smtp_server.logins == [SMTP_USER]
    assert len(smtp_server.messages) == 1

    wrong = "wrong-" + SMTP_PASSWORD
    with pytest.raises(DeliveryError) as caught:
        EmailChannel(login_smtp_config_for(smtp_server, password=wrong)).send(EMAIL, SUBJECT, BODY)
    text = str(caught.value)
    assert "login" in text
    assert f"127.0.0.1:{smtp_server.port}" in text
    assert wrong not in text
    assert SMTP_PASSWORD not in text
    assert SMTP_PASSWORD not in repr(login_smtp_config_for(smtp_server))
    assert len(smtp_server.messages) == 1


def test_email_to_a_closed_port_is_a_delivery_error() -> None:
    channel = EmailChannel(SmtpConfig(host="127.0.0.1", port=free_port(), timeout=2.0))
    with pytest.raises(DeliveryError, match=r"email to .* via 127\.0\.0\.1:\d+"):
        channel.send(EMAIL, SUBJECT, BODY)


def test_email_disabled_is_a_delivery_error_naming_the_setting(smtp_server: SmtpServer) -> None:
    channel = EmailChannel(smtp_config_for(smtp_server, enabled=False))
    with pytest.raises(DeliveryError, match=r"\[smtp\] enabled"):
        channel.send(EMAIL, SUBJECT, BODY)
    assert smtp_server.messages == []


def test_email_refuses_header_injection(smtp_server: SmtpServer) -> None:
    channel = EmailChannel(smtp_config_for(smtp_server))
    with pytest.raises(DeliveryError):
        channel.send("a@example.gov.cn\r\nBcc: b@example.com", SUBJECT, BODY)
    assert smtp_server.messages == []


def test_sms_arrives_with_phone_message_and_token(sms_gateway: SmsGateway) -> None:
    HttpSmsChannel(sms_config_for(sms_gateway, token="gw-token")).send(PHONE, "ignored", SMS)

    assert sms_gateway.sms == [{"phone": PHONE, "message": SMS}]
    [request] = sms_gateway.received
    assert request.headers["Authorization"] == "Bearer gw-token"
    assert request.headers["Content-Type"].startswith("application/json")


def test_sms_without_token_sends_no_authorization(sms_gateway: SmsGateway) -> None:
    HttpSmsChannel(sms_config_for(sms_gateway)).send(PHONE, None, SMS)
    [request] = sms_gateway.received
    assert "Authorization" not in request.headers


def test_sms_gateway_error_is_a_delivery_error_with_status(sms_gateway: SmsGateway) -> None:
    sms_gateway.fail_next(1)
    channel = HttpSmsChannel(sms_config_for(sms_gateway, token="gw-token"))
    with pytest.raises(DeliveryError) as caught:
        channel.send(PHONE, None, SMS)
    text = str(caught.value)
    assert "HTTP 500" in text
    assert PHONE in text
    assert "gateway unavailable" in text  # the gateway's own explanation is kept
    assert "gw-token" not in text
    assert sms_gateway.sms == []

    channel.send(PHONE, None, SMS)  # the switch only lasted one request
    assert len(sms_gateway.sms) == 1


def test_sms_gateway_down_and_unknown_path_are_delivery_errors(sms_gateway: SmsGateway) -> None:
    down = HttpSmsChannel(SmsConfig(url=f"http://127.0.0.1:{free_port()}/sms", timeout=2.0))
    with pytest.raises(DeliveryError, match="sms to"):
        down.send(PHONE, None, SMS)
    wrong_path = HttpSmsChannel(SmsConfig(url=f"{sms_gateway.base_url}/nope", timeout=2.0))
    with pytest.raises(DeliveryError, match="HTTP 404"):
        wrong_path.send(PHONE, None, SMS)


def test_sms_url_must_be_http() -> None:
    with pytest.raises(ValueError, match=r"\[sms\] url"):
        HttpSmsChannel(SmsConfig(url="file:///etc/passwd"))


def test_webhook_posts_robot_text(sms_gateway: SmsGateway) -> None:
    channel = WebhookChannel(sms_gateway.webhook_url, name="wecom")
    channel.send("运维群", None, "今晚合规巡检：3 个网站未放置标识。")
    assert channel.name == "wecom"
    assert sms_gateway.webhook == [
        {"msgtype": "text", "text": {"content": "今晚合规巡检：3 个网站未放置标识。"}}
    ]
    sms_gateway.fail_next(1, status=503)
    with pytest.raises(DeliveryError, match="HTTP 503"):
        channel.send("运维群", None, "x")


def test_channels_from_config_follow_the_settings(sms_gateway: SmsGateway) -> None:
    channels = channels_from_config(Config(sms=sms_config_for(sms_gateway)))
    assert set(channels) == {"email", "sms"}
    assert all(isinstance(c, Channel) for c in channels.values())
    assert {name: c.name for name, c in channels.items()} == {"email": "email", "sms": "sms"}
    assert set(channels_from_config(Config(sms=SmsConfig(kind="none")))) == {"email"}


# --- outbox ---------------------------------------------------------------------------------


def test_enqueue_twice_with_one_key_sends_one_message_once(
    sessions: sessionmaker[Session], smtp_server: SmtpServer, sms_gateway: SmsGateway
) -> None:
    channels = channels_from_config(
        Config(smtp=smtp_config_for(smtp_server), sms=sms_config_for(sms_gateway))
    )
    with transaction(sessions) as session:
        first = enqueue(
            session,
            key="issued:1:email",
            channel="email",
            recipient=EMAIL,
            subject=SUBJECT,
            body=BODY,
            now=NOW,
        )
        again = enqueue(
            session,
            key="issued:1:email",
            channel="email",
            recipient=EMAIL,
            subject="other",
            body="other",
            now=NOW,
        )
        assert first is not None
        assert first.status is OutboxStatus.PENDING
        assert first.attempts == 0
        assert again is None
    assert _queue(sessions, "issued:1:email", channel="email", recipient=EMAIL) is None

    report = deliver_due(sessions, channels, now=NOW, notify=NotifyConfig())
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    [message] = smtp_server.messages
    assert message["Subject"] == SUBJECT
    assert message.get_content() == BODY

    later = deliver_due(sessions, channels, now=NOW + timedelta(days=1), notify=NotifyConfig())
    assert later == DeliveryReport()
    assert len(smtp_server.messages) == 1
    [row] = _rows(sessions)
    assert row.status is OutboxStatus.SENT
    assert row.sent_at == NOW
    assert row.attempts == 1
    assert sms_gateway.sms == []


def test_enqueue_belongs_to_the_callers_transaction(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        enqueue(session, key="k", channel="sms", recipient=PHONE, subject=None, body=SMS, now=NOW)
        session.rollback()
    assert _rows(sessions) == []
    assert _queue(sessions, "k") is not None  # the key is free again
    assert len(_rows(sessions)) == 1


def test_enqueue_rejects_naive_time_and_empty_recipient(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        with pytest.raises(ValueError, match="aware"):
            enqueue(
                session,
                key="k",
                channel="sms",
                recipient=PHONE,
                subject=None,
                body=SMS,
                now=datetime(2025, 3, 3),
            )
        with pytest.raises(ValueError, match="recipient"):
            enqueue(session, key="k", channel="sms", recipient="", subject=None, body=SMS, now=NOW)


def test_failing_gateway_is_retried_with_backoff_then_sent_once(
    sessions: sessionmaker[Session], sms_gateway: SmsGateway
) -> None:
    notify = NotifyConfig(max_attempts=5, backoff_seconds=60)
    channels: dict[str, Channel] = {"sms": HttpSmsChannel(sms_config_for(sms_gateway))}
    _queue(sessions, "issued:2:sms")
    sms_gateway.fail_next(2)

    first = deliver_due(sessions, channels, now=NOW, notify=notify)
    assert (first.sent, first.retrying, first.failed) == (0, 1, 0)
    assert "HTTP 500" in first.errors[0]
    [row] = _rows(sessions)
    assert row.status is OutboxStatus.PENDING
    assert row.attempts == 1
    assert row.next_attempt_at == NOW + timedelta(seconds=60)
    assert row.last_error is not None
    assert "HTTP 500" in row.last_error

    # Not due yet: nothing is sent, nothing is counted.
    assert deliver_due(sessions, channels, now=NOW + timedelta(seconds=59), notify=notify) == (
        DeliveryReport()
    )

    second_at = NOW + timedelta(seconds=60)
    second = deliver_due(sessions, channels, now=second_at, notify=notify)
    assert (second.sent, second.retrying) == (0, 1)
    [row] = _rows(sessions)
    assert row.attempts == 2
    assert row.next_attempt_at == second_at + timedelta(seconds=120)  # doubled

    assert (
        deliver_due(sessions, channels, now=second_at + timedelta(seconds=119), notify=notify)
        == DeliveryReport()
    )
    third_at = second_at + timedelta(seconds=120)
    third = deliver_due(sessions, channels, now=third_at, notify=notify)
    assert (third.sent, third.retrying, third.failed) == (1, 0, 0)

    assert sms_gateway.rejected == 2
    assert sms_gateway.sms == [{"phone": PHONE, "message": SMS}]
    [row] = _rows(sessions)
    assert row.status is OutboxStatus.SENT
    assert row.sent_at == third_at
    assert row.attempts == 3
    assert deliver_due(sessions, channels, now=third_at + timedelta(days=9), notify=notify) == (
        DeliveryReport()
    )
    assert len(sms_gateway.sms) == 1


def test_max_attempts_mark_the_row_failed_and_keep_the_error(
    sessions: sessionmaker[Session], sms_gateway: SmsGateway
) -> None:
    notify = NotifyConfig(max_attempts=3, backoff_seconds=10)
    channels: dict[str, Channel] = {"sms": HttpSmsChannel(sms_config_for(sms_gateway))}
    _queue(sessions, "issued:3:sms")
    sms_gateway.fail_next(100)

    at = NOW
    outcomes = []
    for attempt in range(1, 4):
        report = deliver_due(sessions, channels, now=at, notify=notify)
        outcomes.append((report.retrying, report.failed))
        at += retry_delay(notify, attempt)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]

    [row] = _rows(sessions)
    assert row.status is OutboxStatus.FAILED
    assert row.attempts == 3
    assert row.sent_at is None
    assert row.last_error is not None
    assert "HTTP 500" in row.last_error
    assert PHONE in row.last_error

    sms_gateway.fail_next(0)
    assert deliver_due(sessions, channels, now=at + timedelta(days=30), notify=notify) == (
        DeliveryReport()
    )
    assert sms_gateway.sms == []
    assert sms_gateway.rejected == 3


def test_unknown_channel_is_recorded_not_raised(
    sessions: sessionmaker[Session], sms_gateway: SmsGateway
) -> None:
    channels: dict[str, Channel] = {"sms": HttpSmsChannel(sms_config_for(sms_gateway))}
    _queue(sessions, "a:fax", channel="fax", recipient="010-12345678")
    _queue(sessions, "a:sms")
    report = deliver_due(sessions, channels, now=NOW, notify=NotifyConfig(max_attempts=1))
    assert (report.sent, report.retrying, report.failed) == (1, 0, 1)
    fax, sms = _rows(sessions)
    assert fax.status is OutboxStatus.FAILED
    assert fax.last_error is not None
    assert "'fax'" in fax.last_error
    assert "sms" in fax.last_error
    assert sms.status is OutboxStatus.SENT


CODE_SMS = "【党政机关网站审核管理平台】您的验证码为 406183，10 分钟内有效。"


def test_a_secret_is_masked_once_sent_never_before(
    sessions: sessionmaker[Session], sms_gateway: SmsGateway
) -> None:
    channels: dict[str, Channel] = {"sms": HttpSmsChannel(sms_config_for(sms_gateway))}
    notify = NotifyConfig(max_attempts=3, backoff_seconds=10)
    _queue(sessions, "code:1", body=CODE_SMS, redact="406183")
    sms_gateway.fail_next(1)

    assert deliver_due(sessions, channels, now=NOW, notify=notify).retrying == 1
    [row] = _rows(sessions)
    assert row.body == CODE_SMS  # still needed for the retry

    assert deliver_due(sessions, channels, now=NOW + timedelta(seconds=10), notify=notify).sent
    assert sms_gateway.sms == [{"phone": PHONE, "message": CODE_SMS}]
    [row] = _rows(sessions)
    assert row.status is OutboxStatus.SENT
    assert "406183" not in row.body
    assert row.body == CODE_SMS.replace("406183", MASK)
    assert row.redact is None


def test_a_secret_is_masked_when_the_message_is_given_up(
    sessions: sessionmaker[Session], sms_gateway: SmsGateway
) -> None:
    channels: dict[str, Channel] = {"sms": HttpSmsChannel(sms_config_for(sms_gateway))}
    _queue(sessions, "code:2", body=CODE_SMS, redact="406183")
    sms_gateway.fail_next(1)
    report = deliver_due(sessions, channels, now=NOW, notify=NotifyConfig(max_attempts=1))
    assert report.failed == 1
    [row] = _rows(sessions)
    assert row.status is OutboxStatus.FAILED
    assert "406183" not in row.body
    assert row.redact is None


def test_redact_must_name_text_of_the_body(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="redact"):
        _queue(sessions, "code:3", body=CODE_SMS, redact="999999")


def test_queued_keys_deliver_exactly_what_one_transaction_queued(
    sessions: sessionmaker[Session], sms_gateway: SmsGateway
) -> None:
    channels: dict[str, Channel] = {"sms": HttpSmsChannel(sms_config_for(sms_gateway))}
    _queue(sessions, "earlier:sms", recipient="13900000000")
    with transaction(sessions) as session:
        for n in range(2):
            enqueue(session, key=f"mine:{n}", channel="sms", recipient=PHONE, subject=None,
                    body=SMS, now=NOW)
        enqueue(session, key="mine:0", channel="sms", recipient=PHONE, subject=None, body=SMS,
                now=NOW)  # already queued: not counted twice
    keys = queued_keys(session)
    assert keys == ["mine:0", "mine:1"]
    assert queued_keys(session) == []
    report = deliver_due(sessions, channels, now=NOW, notify=NotifyConfig(), keys=keys)
    assert report.sent == 2
    assert [m["phone"] for m in sms_gateway.sms] == [PHONE, PHONE]
    earlier = _rows(sessions)[0]
    assert earlier.status is OutboxStatus.PENDING


def test_limit_bounds_one_run(sessions: sessionmaker[Session], sms_gateway: SmsGateway) -> None:
    channels: dict[str, Channel] = {"sms": HttpSmsChannel(sms_config_for(sms_gateway))}
    for n in range(5):
        _queue(sessions, f"bulk:{n}", recipient=f"1380000000{n}")
    assert deliver_due(sessions, channels, now=NOW, notify=NotifyConfig(), limit=3).sent == 3
    assert deliver_due(sessions, channels, now=NOW, notify=NotifyConfig(), limit=3).sent == 2
    assert sorted(m["phone"] for m in sms_gateway.sms) == [f"1380000000{n}" for n in range(5)]


def test_interrupted_delivery_is_retried_after_the_lease(
    sessions: sessionmaker[Session], sms_gateway: SmsGateway
) -> None:
    """A deliverer that died mid-send leaves a leased row; it is taken again only later."""
    channels: dict[str, Channel] = {"sms": HttpSmsChannel(sms_config_for(sms_gateway))}
    lease = timedelta(minutes=5)
    _queue(sessions, "crash:1")
    with transaction(sessions) as session:  # exactly what a claim writes
        session.execute(sa.update(OutboxMessage).values(attempts=1, next_attempt_at=NOW + lease))
    notify = NotifyConfig(max_attempts=2)
    assert deliver_due(sessions, channels, now=NOW, notify=notify, lease=lease) == DeliveryReport()
    report = deliver_due(sessions, channels, now=NOW + lease, notify=notify, lease=lease)
    assert report.sent == 1
    assert len(sms_gateway.sms) == 1

    # An interrupted last attempt is given up, not sent a third time.
    _queue(sessions, "crash:2")
    with transaction(sessions) as session:
        session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.key == "crash:2")
            .values(attempts=2, next_attempt_at=NOW + lease)
        )
    report = deliver_due(sessions, channels, now=NOW + lease, notify=notify, lease=lease)
    assert (report.sent, report.failed) == (0, 1)
    row = _rows(sessions)[1]
    assert row.status is OutboxStatus.FAILED
    assert row.last_error is not None
    assert "interrupted" in row.last_error
    assert len(sms_gateway.sms) == 1


def test_racing_deliverers_send_each_message_exactly_once(
    sessions: sessionmaker[Session], sms_gateway: SmsGateway, smtp_server: SmtpServer
) -> None:
    channels = channels_from_config(
        Config(smtp=smtp_config_for(smtp_server), sms=sms_config_for(sms_gateway))
    )
    count = 40
    with transaction(sessions) as session:
        for n in range(count):
            enqueue(
                session,
                key=f"race:{n}:sms",
                channel="sms",
                recipient=f"139{n:08d}",
                subject=None,
                body=f"第{n}条",
                now=NOW,
            )
            enqueue(
                session,
                key=f"race:{n}:email",
                channel="email",
                recipient=f"h{n}@example.gov.cn",
                subject=f"标识 {n}",
                body=BODY,
                now=NOW,
            )

    workers = 4
    barrier = threading.Barrier(workers)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            report = deliver_due(sessions, channels, now=NOW, notify=NotifyConfig())
            with lock:
                reports.append(report)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(reports) == workers

    assert sum(r.sent for r in reports) == 2 * count
    assert sum(r.retrying + r.failed for r in reports) == 0
    phones = [m["phone"] for m in sms_gateway.sms]
    assert sorted(phones) == [f"139{n:08d}" for n in range(count)]
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert sorted(subjects) == sorted(f"标识 {n}" for n in range(count))
    rows = _rows(sessions)
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert {r.attempts for r in rows} == {1}
