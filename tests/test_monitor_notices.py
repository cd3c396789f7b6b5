"""The monitor's notifications: each rule, its Chinese text, and exactly-once delivery.

Fixed clock throughout; the deadlines cross the 2026 National Day holiday and its adjusted
Saturday (see tests/test_deadlines.py). Rows are built directly with the models.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config, NotifyConfig, SmsConfig
from monitor.deadlines import apply_check, reevaluate_all
from monitor.notices import office_digests, on_state_change, reminders
from notify.channels import EmailChannel, HttpSmsChannel, WebhookChannel
from notify.outbox import deliver_due
from store.db import transaction
from store.models import (
    Application,
    ApplicationKind,
    AppState,
    MonitorState,
    OutboxMessage,
    PageRender,
    Site,
    SiteSource,
    SiteStateChange,
    SiteStatus,
)
from tests.factories import CALENDAR, DUE, NOTICE, add_check, add_office, add_site, add_unit, at
from tests.servers.mail import SmsGateway, SmtpServer, sms_config_for, smtp_config_for

CONFIG = Config()
HOME = "http://xn--6rtt7jbwbe2c.xn--zfr164b/"  # 杭州数据.政务 as the crawler stores it
SHOWN = "http://杭州数据.政务/"  # as the unit reads it
FAILING = [
    (HOME, ["badge_missing"]),
    (HOME + "news/1.html", ["badge_missing"]),
    (HOME + "about.html", ["badge_inactive", "badge_duplicate"]),
]


def outbox(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def make_site(
    sessions: sessionmaker[Session],
    *,
    handlers: Sequence[tuple[str, str | None, str | None]] | None = None,
    office_email: str | None = "bb@hz.example.cn",
    **site_args: object,
) -> int:
    with transaction(sessions) as session:
        office = add_office(session, email=office_email)
        unit = (
            add_unit(session, office)
            if handlers is None
            else add_unit(session, office, handlers=handlers)
        )
        return add_site(session, unit, **site_args).id


def crawl(
    sessions: sessionmaker[Session],
    site_id: int,
    day: date,
    status: SiteStatus,
    failing: Sequence[tuple[str, Sequence[str]]] = (),
    *,
    config: Config = CONFIG,
) -> tuple[SiteStateChange | None, list[OutboxMessage]]:
    """One complete check on ``day`` and what the monitor does with it, in one transaction."""
    with transaction(sessions) as session:
        site = session.get(Site, site_id)
        assert site is not None
        add_check(session, site, status, now=at(day), failing=failing)
        change = apply_check(session, site, now=at(day, 3), calendar=CALENDAR, today=day)
        queued = (
            on_state_change(session, change, now=at(day, 3), calendar=CALENDAR, config=config)
            if change is not None
            else []
        )
        return change, queued


def daily(
    sessions: sessionmaker[Session], day: date, *, config: Config = CONFIG
) -> list[OutboxMessage]:
    """The daily pass as the monitor runs it: deadlines, per-change notices, reminders."""
    now = at(day, 18)
    with transaction(sessions) as session:
        queued = []
        for change in reevaluate_all(session, now=now, calendar=CALENDAR, today=day):
            queued += on_state_change(session, change, now=now, calendar=CALENDAR, config=config)
        queued += reminders(session, today=day, now=now, calendar=CALENDAR, config=config)
        return queued


# --- failing inside the deadline ---------------------------------------------------------------


def test_pending_notice_says_which_pages_why_how_and_by_when(
    sessions: sessionmaker[Session],
) -> None:
    site_id = make_site(sessions)
    change, queued = crawl(sessions, site_id, NOTICE, SiteStatus.NON_COMPLIANT, FAILING)
    assert change is not None and change.to_state is MonitorState.PENDING
    assert [(m.channel, m.recipient) for m in queued] == [
        ("email", "wang@hz.example.cn"),
        ("sms", "13905710001"),
    ]

    email, sms = outbox(sessions)
    assert email.key.startswith(f"site-pending:{site_id}:2026-10-12:email:")
    assert email.subject == (
        "【网站标识】杭州市数据资源管理局网站（杭州数据.政务）网站标识加挂不合规，"
        "请于2026年10月12日前整改"
    )
    body = email.body
    assert body.startswith("杭州市数据资源管理局：")
    assert "检查页面 4 个，未通过 3 个。" in body
    assert "检查时间：2026年9月29日 10:00" in body  # Beijing time
    # Which pages, each with what is wrong on it.
    assert f"  1. {SHOWN}（页面没有加挂网站标识）" in body
    assert f"  2. {SHOWN}news/1.html（页面没有加挂网站标识）" in body
    assert (
        f"  3. {SHOWN}about.html（网站标识代码在注释、<noscript> 或 <template> 中，不会运行；"
        "页面上有多处网站标识）"
    ) in body
    assert "ok-0.html" not in body  # passing pages are not listed
    assert "xn--" not in body
    # Why and how to fix, most frequent first.
    assert "· 页面没有加挂网站标识（2 个页面）：请把收到的网站标识代码原样粘贴到页面底部" in body
    assert body.index("页面没有加挂网站标识（2") < body.index("不会运行（1 个页面）")
    assert "页面上有多处网站标识（1 个页面）：请只保留页面底部中间的一处。" in body
    # By when: the deadline after National Day, counted in working days.
    assert "整改期限：请于 2026年10月12日 前完成整改（还剩 5 个工作日）。" in body

    assert sms.subject is None
    assert sms.body == (
        "【网站标识】杭州市数据资源管理局：“杭州市数据资源管理局网站”（杭州数据.政务）有 3 个页面"
        "未按要求加挂网站标识（页面没有加挂网站标识），详情已发送至经办人邮箱。"
        "请于 2026年10月12日 前完成整改（还剩 5 个工作日）。"
    )


def test_pending_notice_is_sent_once_per_deadline(sessions: sessionmaker[Session]) -> None:
    site_id = make_site(sessions)
    change, _ = crawl(sessions, site_id, NOTICE, SiteStatus.NON_COMPLIANT, FAILING)
    assert change is not None
    # The same change dispatched again (a restarted monitor): nothing new.
    with transaction(sessions) as session:
        change = session.get(SiteStateChange, change.id)
        assert change is not None
        assert (
            on_state_change(session, change, now=at(NOTICE, 4), calendar=CALENDAR, config=CONFIG)
            == []
        )
    # Failing, unreachable, failing again inside the same deadline: still one notice.
    crawl(sessions, site_id, date(2026, 9, 30), SiteStatus.UNREACHABLE)
    change, queued = crawl(sessions, site_id, date(2026, 10, 8), SiteStatus.NON_COMPLIANT, FAILING)
    assert change is not None and change.to_state is MonitorState.PENDING
    assert queued == []
    assert [m.channel for m in outbox(sessions)] == ["email", "sms"]


def test_long_lists_are_cut_at_ten_pages_and_rendered_failures_are_listed(
    sessions: sessionmaker[Session],
) -> None:
    site_id = make_site(sessions)
    failing = [(f"{HOME}p{n}.html", ["badge_missing"]) for n in range(12)]
    with transaction(sessions) as session:
        site = session.get(Site, site_id)
        assert site is not None
        check = add_check(
            session, site, SiteStatus.NON_COMPLIANT, now=at(date(2026, 10, 9)), failing=failing[:8]
        )
        session.add(
            PageRender(
                check_id=check.id,
                url=HOME + "special/",
                viewport="desktop",
                verdict="non_compliant",
                reasons=["badge_not_centered"],
                message="",
                rendered_at=at(date(2026, 10, 9)),
            )
        )
        check.pages_failing = 12
        check.reasons = {"pages": {"badge_missing": 11, "badge_not_centered": 1}}
        change = apply_check(
            session, site, now=at(date(2026, 10, 9)), calendar=CALENDAR, today=date(2026, 10, 9)
        )
        assert change is not None
        on_state_change(
            session, change, now=at(date(2026, 10, 9)), calendar=CALENDAR, config=CONFIG
        )
    [email, _] = outbox(sessions)
    assert "未通过的页面（列出前 9 个，另有 3 个）：" in email.body
    assert f"  9. {SHOWN}special/（网站标识没有位于页面底部中间）" in email.body
    assert "网站标识没有位于页面底部中间（1 个页面）：请把标识居中显示在页面底部。" in email.body
    assert "还剩 2 个工作日" in email.body  # 10-10 (adjusted Saturday) and 10-12


def test_a_unit_without_handler_contacts_is_skipped_and_logged(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    site_id = make_site(sessions, handlers=[("无联系方式", None, None)])
    with caplog.at_level(logging.WARNING, logger="monitor.notices"):
        change, queued = crawl(sessions, site_id, NOTICE, SiteStatus.NON_COMPLIANT, FAILING)
    assert change is not None and change.to_state is MonitorState.PENDING
    assert queued == []
    assert outbox(sessions) == []
    assert f"site {site_id} " in caplog.text
    assert "no handler with an e-mail or mobile" in caplog.text


def test_every_handler_address_is_told_once_and_sms_follows_the_settings(
    sessions: sessionmaker[Session],
) -> None:
    site_id = make_site(
        sessions,
        handlers=[
            ("王经办", "wang@hz.example.cn", "13905710001"),
            ("李经办", "li@hz.example.cn", None),
            ("王经办（副）", "wang@hz.example.cn", "13905710002"),
        ],
    )
    no_sms = Config(sms=SmsConfig(kind="none"))
    crawl(sessions, site_id, NOTICE, SiteStatus.NON_COMPLIANT, FAILING, config=no_sms)
    assert [(m.channel, m.recipient) for m in outbox(sessions)] == [
        ("email", "wang@hz.example.cn"),
        ("email", "li@hz.example.cn"),
    ]


# --- one working day before the deadline -------------------------------------------------------


@pytest.mark.parametrize(
    ("notice", "due", "reminder_day"),
    [
        # Deadline Monday 10-12: the working day before is the adjusted Saturday 10-10.
        (NOTICE, DUE, date(2026, 10, 10)),
        # Deadline Thursday 10-08, right after the holiday: the reminder goes on 09-30.
        (date(2026, 9, 24), date(2026, 10, 8), date(2026, 9, 30)),
        # Deadline Monday 10-19 after a plain weekend: Friday 10-16.
        (date(2026, 10, 12), date(2026, 10, 19), date(2026, 10, 16)),
    ],
)
def test_reminder_fires_exactly_on_the_working_day_before_the_deadline(
    sessions: sessionmaker[Session], notice: date, due: date, reminder_day: date
) -> None:
    site_id = make_site(sessions, notified_on=notice, placement_due=due)
    crawl(sessions, site_id, notice, SiteStatus.NON_COMPLIANT, FAILING)
    pending_rows = len(outbox(sessions))

    sent_on: dict[date, list[OutboxMessage]] = {}
    day = notice
    while day <= due + timedelta(days=3):
        queued = daily(sessions, day)
        reminded = [m for m in queued if m.key.startswith("site-reminder:")]
        if reminded:
            sent_on[day] = reminded
        day += timedelta(days=1)

    assert list(sent_on) == [reminder_day]
    email, sms = sent_on[reminder_day]
    assert email.key == f"site-reminder:{site_id}:{due.isoformat()}:email:{_user(sessions)}"
    due_text = f"{due.year}年{due.month}月{due.day}日"
    assert (
        email.subject
        == f"【网站标识】提醒：杭州市数据资源管理局网站（杭州数据.政务）整改期限为{due_text}"
    )
    assert "只剩最后 1 个工作日，最近一次检查仍未合规" in email.body
    assert f"{SHOWN}news/1.html" in email.body
    assert "页面没有加挂网站标识（2 个页面）" in email.body
    assert sms.channel == "sms" and due_text in sms.body and "只剩最后 1 个工作日" in sms.body
    # The pending notice, the reminder, then the overdue notice: nothing else, nothing twice.
    kinds = [m.key.split(":")[0] for m in outbox(sessions)]
    assert kinds == ["site-pending"] * pending_rows + ["site-reminder"] * 2 + ["site-overdue"] * 2


def _user(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.execute(sa.text("SELECT min(id) FROM users")).scalar_one()


def test_reminder_catches_up_after_a_missed_day_and_skips_compliant_sites(
    sessions: sessionmaker[Session],
) -> None:
    site_id = make_site(sessions)
    crawl(sessions, site_id, NOTICE, SiteStatus.NON_COMPLIANT, FAILING)
    with transaction(sessions) as session:
        site = session.get(Site, site_id)
        assert site is not None
        other = add_site(session, site.unit, domain="杭州其他.政务")
        add_check(session, other, SiteStatus.COMPLIANT, now=at(NOTICE))
        apply_check(session, other, now=at(NOTICE), calendar=CALENDAR, today=NOTICE)
    # The monitor was down on the adjusted Saturday; Sunday's run still reminds.
    assert daily(sessions, date(2026, 10, 9)) == []
    queued = daily(sessions, date(2026, 10, 11))
    assert {m.key.split(":")[1] for m in queued} == {str(site_id)}
    assert daily(sessions, DUE) == []


# --- overdue and regressed ---------------------------------------------------------------------


def test_overdue_notice_counts_working_days_and_is_sent_once_per_change(
    sessions: sessionmaker[Session],
) -> None:
    site_id = make_site(sessions)
    crawl(sessions, site_id, NOTICE, SiteStatus.NON_COMPLIANT, FAILING)
    before = len(outbox(sessions))
    change, queued = crawl(sessions, site_id, date(2026, 10, 14), SiteStatus.NON_COMPLIANT, FAILING)
    assert change is not None and change.to_state is MonitorState.OVERDUE
    email, sms = queued
    assert email.key.startswith(f"site-overdue:{change.id}:email:")
    assert email.subject == "【网站标识】杭州市数据资源管理局网站（杭州数据.政务）网站标识加挂逾期"
    assert "已超过加挂期限（2026年10月12日），逾期 2 个工作日" in email.body
    assert "已列为逾期，并已报告编办" in email.body
    assert f"{SHOWN}about.html" in email.body
    assert "逾期 2 个工作日" in sms.body
    with transaction(sessions) as session:
        again = session.get(SiteStateChange, change.id)
        assert again is not None
        assert (
            on_state_change(
                session, again, now=at(date(2026, 10, 15)), calendar=CALENDAR, config=CONFIG
            )
            == []
        )
    assert len(outbox(sessions)) == before + 2


def test_imported_site_failing_is_overdue_without_a_day_count(
    sessions: sessionmaker[Session],
) -> None:
    site_id = make_site(sessions, notified_on=None, placement_due=None, source=SiteSource.IMPORTED)
    change, [email, _] = crawl(sessions, site_id, NOTICE, SiteStatus.NON_COMPLIANT, FAILING)
    assert change is not None and change.to_state is MonitorState.OVERDUE
    assert "（杭州数据.政务）已超过加挂期限，网站标识仍未按要求加挂" in email.body
    assert "个工作日" not in email.body.split("\n\n")[1]


def test_regressed_notice_goes_out_for_each_regression(sessions: sessionmaker[Session]) -> None:
    site_id = make_site(sessions)
    change, queued = crawl(sessions, site_id, NOTICE, SiteStatus.COMPLIANT)
    assert change is not None and change.to_state is MonitorState.COMPLIANT
    assert queued == []  # compliance needs no notice
    first, queued = crawl(
        sessions,
        site_id,
        date(2026, 10, 20),
        SiteStatus.NON_COMPLIANT,
        [(HOME, ["badge_hidden"])],
    )
    assert first is not None and first.to_state is MonitorState.REGRESSED
    email, _ = queued
    assert email.key.startswith(f"site-regressed:{first.id}:email:")
    assert email.subject == (
        "【网站标识】杭州市数据资源管理局网站（杭州数据.政务）网站标识由合规变为不合规"
    )
    assert "此前检查合规" in email.body
    assert f"  1. {SHOWN}（网站标识在页面上看不到（被隐藏、遮挡或移出页面））" in email.body
    assert "调整页面样式，使标识清晰可见" in email.body

    change, queued = crawl(sessions, site_id, date(2026, 10, 21), SiteStatus.UNREACHABLE)
    assert change is not None and queued == []  # outages go to the office digest only
    change, queued = crawl(sessions, site_id, date(2026, 10, 22), SiteStatus.DNS_MISMATCH)
    assert change is not None and queued == []
    second, queued = crawl(sessions, site_id, date(2026, 10, 23), SiteStatus.NON_COMPLIANT, FAILING)
    assert second is not None and second.to_state is MonitorState.REGRESSED
    assert len(queued) == 2
    assert [m.key.split(":")[:2] for m in outbox(sessions)] == [
        ["site-regressed", str(first.id)],
        ["site-regressed", str(first.id)],
        ["site-regressed", str(second.id)],
        ["site-regressed", str(second.id)],
    ]


def test_a_change_the_site_has_already_left_is_not_announced(
    sessions: sessionmaker[Session],
) -> None:
    site_id = make_site(sessions)
    with transaction(sessions) as session:
        site = session.get(Site, site_id)
        assert site is not None
        add_check(session, site, SiteStatus.NON_COMPLIANT, now=at(NOTICE), failing=FAILING)
        pending = apply_check(session, site, now=at(NOTICE), calendar=CALENDAR, today=NOTICE)
        add_check(session, site, SiteStatus.COMPLIANT, now=at(NOTICE, 4))
        apply_check(session, site, now=at(NOTICE, 4), calendar=CALENDAR, today=NOTICE)
        assert pending is not None
        assert (
            on_state_change(session, pending, now=at(NOTICE, 5), calendar=CALENDAR, config=CONFIG)
            == []
        )
    assert outbox(sessions) == []


# --- office digests and the webhook ------------------------------------------------------------


def _two_offices(sessions: sessionmaker[Session]) -> dict[str, int]:
    """杭州 (with e-mail) has three sites; 宁波 (no e-mail) has one."""
    with transaction(sessions) as session:
        hz = add_office(session, "330100", email="bb@hz.example.cn")
        nb = add_office(session, "330200")
        hz_unit = add_unit(session, hz)
        nb_unit = add_unit(session, nb, name="宁波市大数据局")
        return {
            "hz_a": add_site(session, hz_unit).id,
            "hz_b": add_site(session, hz_unit, domain="杭州交通.政务", name="杭州市交通局网站").id,
            "hz_c": add_site(session, hz_unit, domain="杭州水务.政务", name="杭州市水务局网站").id,
            "nb": add_site(session, nb_unit, domain="宁波数据.政务", name="宁波市大数据局网站").id,
        }


def digest(
    sessions: sessionmaker[Session],
    day: date,
    *,
    config: Config = CONFIG,
    report_url: str | None = None,
) -> list[OutboxMessage]:
    with transaction(sessions) as session:
        return office_digests(
            session, day=day, now=at(day, 0), config=config, report_url=report_url
        )


def test_office_digest_lists_its_own_changes_and_counts(sessions: sessionmaker[Session]) -> None:
    sites = _two_offices(sessions)
    day0 = date(2026, 10, 12)
    day1 = date(2026, 10, 13)
    crawl(sessions, sites["hz_a"], day0 - timedelta(days=1), SiteStatus.COMPLIANT)
    assert digest(sessions, day0)  # the previous digest, 10-12 08:00 Beijing
    crawl(sessions, sites["hz_a"], day0, SiteStatus.NON_COMPLIANT, FAILING)  # regressed
    crawl(sessions, sites["hz_b"], day0, SiteStatus.NON_COMPLIANT, FAILING)  # pending
    crawl(sessions, sites["hz_c"], day0, SiteStatus.UNREACHABLE)
    crawl(sessions, sites["nb"], day0, SiteStatus.DNS_MISMATCH)
    daily(sessions, day0)  # still inside the deadline: nothing changes
    before = {m.id for m in outbox(sessions)}

    queued = digest(sessions, day1, report_url="https://bw.example.cn/reports/330100/2026-10-13")
    [email] = queued  # 宁波 has no e-mail and no webhook is configured
    assert (email.channel, email.recipient) == ("email", "bb@hz.example.cn")
    assert email.key.startswith("office-digest:") and email.key.endswith(":2026-10-13:email")
    assert email.subject == "【网站标识】杭州市委编办网站标识合规检查日报（2026年10月13日）"
    body = email.body
    assert "统计时段：2026年10月12日 08:00 至 2026年10月13日 08:00。" in body
    assert "一、管辖网站当前状态（共 3 个）" in body
    assert "  未合规（整改期限内）：1 个" in body
    assert "  由合规变为不合规：1 个" in body
    assert "  无法访问：1 个" in body
    assert "  合规：0 个" in body
    assert "二、本期状态变化（3 项）" in body
    assert (
        "  1. 杭州市数据资源管理局网站（杭州数据.政务）：合规 → 由合规变为不合规，"
        "未通过页面 3 个（2026年10月12日 11:00）"
    ) in body
    assert (
        "杭州市交通局网站（杭州交通.政务）：尚未检查 → 未合规（整改期限内），未通过页面 3 个"
        in body
    )
    assert "杭州市水务局网站（杭州水务.政务）：尚未检查 → 无法访问" in body
    assert "宁波" not in body  # another office's jurisdiction
    assert "详细报告：https://bw.example.cn/reports/330100/2026-10-13" in body
    assert all(m.id not in before for m in queued)

    # The same day again: nothing new.
    assert digest(sessions, day1) == []
    # The next day: only what changed since this digest (the deadline passed for 交通局).
    day2 = date(2026, 10, 14)
    daily(sessions, date(2026, 10, 13))
    [email2] = digest(sessions, day2)
    assert "二、本期状态变化（1 项）" in email2.body
    assert (
        "杭州市交通局网站（杭州交通.政务）：未合规（整改期限内） → 逾期未整改，逾期 1 个工作日"
        in (email2.body)
    )
    assert "详细报告：（报告链接待开通）" in email2.body
    # A quiet day still gets the counts (the monitor has not gone silent).
    [email3] = digest(sessions, date(2026, 10, 15))
    assert "本期没有网站状态变化。" in email3.body
    assert "  逾期未整改：1 个" in email3.body


def test_digest_goes_to_the_webhook_for_offices_with_changes(
    sessions: sessionmaker[Session],
    smtp_server: SmtpServer,
    sms_gateway: SmsGateway,
) -> None:
    sites = _two_offices(sessions)
    config = Config(
        smtp=smtp_config_for(smtp_server),
        sms=sms_config_for(sms_gateway),
        notify=NotifyConfig(webhook_url=sms_gateway.webhook_url, backoff_seconds=0),
    )
    day = date(2026, 10, 12)
    crawl(sessions, sites["nb"], day, SiteStatus.DNS_MISMATCH, config=config)
    queued = digest(sessions, date(2026, 10, 13), config=config)
    # 杭州: e-mail (no changes, so no robot message); 宁波: no e-mail, one change → robot.
    assert [(m.channel, m.recipient) for m in queued] == [
        ("email", "bb@hz.example.cn"),
        ("webhook", "webhook robot"),
    ]
    assert digest(sessions, date(2026, 10, 13), config=config) == []

    channels = {
        "email": EmailChannel(config.smtp),
        "sms": HttpSmsChannel(config.sms),
        "webhook": WebhookChannel(sms_gateway.webhook_url),
    }
    for _ in range(2):  # a second delivery run sends nothing again
        deliver_due(sessions, channels, now=at(date(2026, 10, 13), 1), notify=config.notify)
    [message] = smtp_server.messages
    assert message["Subject"] == "【网站标识】杭州市委编办网站标识合规检查日报（2026年10月13日）"
    assert "本期没有网站状态变化。" in message.get_content()
    [robot] = sms_gateway.webhook
    text = robot["text"]["content"]
    assert text.startswith("【网站标识】宁波市委编办网站标识合规检查日报（2026年10月13日）\n")
    assert "宁波市大数据局网站（宁波数据.政务）：尚未检查 → 域名解析地址与登记不符" in text
    assert "详细报告：（报告链接待开通）" in text
    assert {m.status.value for m in outbox(sessions)} == {"sent"}


def _waiting_application(
    session: Session, unit, serial: str, state: AppState, submitted: date,
    review_due: date, materials_due: date | None = None,
) -> None:
    moment = at(submitted, 2)
    session.add(
        Application(
            unit=unit, office=unit.office, kind=ApplicationKind.NEW, state=state,
            site_name=f"{serial}网站", domain=f"{serial}.政务", form={}, created_at=moment,
            updated_at=moment, submitted_on=submitted, office_review_due=review_due,
            materials_due=materials_due, serial=serial,
        )
    )


def test_digest_lists_waiting_applications_with_deadlines_and_overdue(
    sessions: sessionmaker[Session],
) -> None:
    day = date(2026, 10, 20)
    with transaction(sessions) as session:
        hz = add_office(session, "330100", email="bb@hz.example.cn")
        unit = add_unit(session, hz)
        _waiting_application(session, unit, "甲", AppState.SUBMITTED, date(2026, 10, 9),
                             date(2026, 10, 16))
        _waiting_application(session, unit, "乙", AppState.APPROVED_ONLINE, date(2026, 10, 12),
                             date(2026, 10, 19), date(2026, 10, 30))
        _waiting_application(session, unit, "丙", AppState.SUBMITTED, date(2026, 10, 19),
                             date(2026, 10, 26))
        _waiting_application(session, unit, "丁", AppState.DRAFT, date(2026, 10, 1),
                             date(2026, 10, 2))  # not waiting for the office
    [email] = digest(sessions, day)  # an office without sites still hears of its applications
    body = email.body
    assert "三、待办申请（3 件，其中逾期 1 件）" in body
    lines = [line.strip() for line in body.splitlines() if "申请序号" in line]
    assert lines == [
        "1. 申请序号 甲：杭州市数据资源管理局“甲网站”（甲.政务），待编办审核，"
        "期限 2026年10月16日，已逾期",
        "2. 申请序号 乙：杭州市数据资源管理局“乙网站”（乙.政务），待确认纸质材料，"
        "期限 2026年10月30日",
        "3. 申请序号 丙：杭州市数据资源管理局“丙网站”（丙.政务），待编办审核，期限 2026年10月26日",
    ]
    assert digest(sessions, day) == []  # a second monitor pass the same day: nothing more
