"""Who is told what when a site's state changes, in Chinese, each message exactly once.

Every message goes through ``notify.outbox.enqueue`` in the caller's transaction, under a key
that names the fact it announces, so repeating a step (a restarted monitor, a second daily run)
never sends a message twice:

- ``site-pending:{site}:{deadline}:{channel}:{user}``: the site fails inside its deadline
  (once per deadline: failing, unreachable, failing again does not repeat it);
- ``site-reminder:{site}:{deadline}:{channel}:{user}``: one working day before the deadline;
- ``site-overdue:{change}:…`` and ``site-regressed:{change}:…``: once per recorded change;
- ``domain-expiry:{site}:{expires_on}:{days}:{channel}:{user}``: the domain expires in 30 or 7
  days or today (once per expiry date and threshold: a renewed domain's new date is reminded
  again; a late pass sends only the most urgent threshold reached);
- ``office-digest:{office}:{day}:{channel}``: the office's daily digest (e-mail to the office;
  ``webhook`` to ``[notify] webhook_url`` when that office had changes), covering the changes
  since its previous digest, which is found in the outbox itself.

Unit notices go to the unit's handlers (role ``unit_handler``): e-mail with the details, SMS
with a short pointer. A unit with no handler contact is skipped and logged, never an error.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from badgewatch import localtime
from badgewatch.config import Config
from badgewatch.domains import display_domain, display_url
from badgewatch.localtime import cn_date, cn_time
from badgewatch.vocabulary import (
    EXPIRY_ADVICE,
    EXPIRY_LABELS,
    NOT_FAILURES,
    STATE_LABELS,
    reason_advice,
    reason_counts,
    reason_text,
)
from notify.outbox import enqueue
from reports.paths import office_report_url
from store.models import (
    Application,
    AppState,
    MonitorState,
    Office,
    OutboxMessage,
    PageRender,
    PageResult,
    Role,
    Site,
    SiteCheck,
    SiteStateChange,
    Unit,
    User,
)
from store.records import reasons_of
from workflow.deadlines import (
    EXPIRY_REMINDER_DAYS,
    EXPIRY_SOON_DAYS,
    FAILING_STATES,
    evaluate_site,
    expiry_reminder,
    expiry_status,
    working_day_before,
)
from workflow.workdays import WorkCalendar

logger = logging.getLogger(__name__)

MAX_URLS = 10
"""Failing pages listed in a unit's notice; the count says how many more there are."""

MAX_DIGEST_CHANGES = 50
"""State changes listed in an office digest (e-mail); the webhook text lists fewer."""
WEBHOOK_RECIPIENT = "webhook robot"

MAX_WEBHOOK_CHANGES = 5
"""Robots take short texts (WeCom: 2048 bytes); the e-mail carries the full list."""

# --- what the last check found -------------------------------------------------------------


@dataclass(frozen=True)
class Findings:
    """The failing pages and reasons of one complete check, ready to be written out."""

    checked_at: datetime | None
    pages_checked: int
    pages_failing: int
    reasons: list[tuple[str, int]]  # code and pages, most frequent first
    pages: list[tuple[str, list[str]]]  # up to MAX_URLS failing URLs with their reason codes


def findings(session: Session, check_id: int | None) -> Findings:
    """Read a check's failing pages (markup verdicts first, then rendered ones) and reasons."""
    check = session.get(SiteCheck, check_id) if check_id is not None else None
    if check is None:
        return Findings(None, 0, 0, [], [])
    reasons = reason_counts(reasons_of(check.reasons)["pages"])
    pages: dict[str, list[str]] = {}
    for url, codes in session.execute(
        select(PageResult.url, PageResult.reasons)
        .where(PageResult.check_id == check.id, PageResult.verdict == "non_compliant")
        .order_by(PageResult.depth, PageResult.id)
        .limit(MAX_URLS)
    ):
        pages[url] = [c for c in codes if c not in NOT_FAILURES]
    if len(pages) < MAX_URLS:
        for url, codes in session.execute(
            select(PageRender.url, PageRender.reasons)
            .where(PageRender.check_id == check.id, PageRender.verdict == "non_compliant")
            .order_by(PageRender.id)
        ):
            if url not in pages and len(pages) >= MAX_URLS:
                continue
            listed = pages.setdefault(url, [])
            listed += [c for c in codes if c not in NOT_FAILURES and c not in listed]
    return Findings(
        checked_at=check.finished_at,
        pages_checked=check.pages_checked,
        pages_failing=check.pages_failing,
        reasons=reasons,
        pages=list(pages.items()),
    )


# --- unit notices ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitNotice:
    subject: str
    email_body: str
    sms_body: str


def _findings_block(found: Findings, zone: ZoneInfo) -> str:
    lines = []
    if found.checked_at is not None:
        lines.append(f"检查时间：{cn_time(found.checked_at, zone)}")
    lines.append(f"检查页面 {found.pages_checked} 个，未通过 {found.pages_failing} 个。")
    if found.pages:
        shown = len(found.pages)
        more = found.pages_failing - shown
        title = "未通过的页面" + (f"（列出前 {shown} 个，另有 {more} 个）：" if more > 0 else "：")
        lines += ["", title]
        for n, (url, codes) in enumerate(found.pages, 1):
            why = "；".join(reason_text(c) for c in codes)
            lines.append(f"  {n}. {display_url(url)}" + (f"（{why}）" if why else ""))
    if found.reasons:
        lines += ["", "问题及整改方法："]
        for code, count in found.reasons:
            lines.append(f"  · {reason_text(code)}（{count} 个页面）：请{reason_advice(code)}。")
    lines += [
        "",
        "网站标识须加挂在网站所有页面（首页、栏目页、文章页、专题页）底部中间的位置。"
        "整改完成后，系统将在下一次例行检查中自动复查。",
    ]
    return "\n".join(lines)


def _main_problem(found: Findings) -> str:
    return reason_text(found.reasons[0][0]) if found.reasons else "网站标识不符合要求"


def pending_notice(
    site: Site, unit: Unit, found: Findings, *, due: date, days_left: int, zone: ZoneInfo
) -> UnitNotice:
    domain = display_domain(site.domain)
    left = f"还剩 {days_left} 个工作日" if days_left > 0 else "今天是最后期限"
    subject = f"【网站标识】{site.name}（{domain}）网站标识加挂不合规，请于{cn_date(due)}前整改"
    body = f"""{unit.name}：

经网站标识合规检查，贵单位“{site.name}”（{domain}）有页面未按要求加挂网站标识。

{_findings_block(found, zone)}

整改期限：请于 {cn_date(due)} 前完成整改（{left}）。
逾期仍不合规的，将列为逾期并报告编办。
"""
    sms = (
        f"【网站标识】{unit.name}：“{site.name}”（{domain}）有 {found.pages_failing} 个页面"
        f"未按要求加挂网站标识（{_main_problem(found)}），详情已发送至经办人邮箱。"
        f"请于 {cn_date(due)} 前完成整改（{left}）。"
    )
    return UnitNotice(subject, body, sms)


def reminder_notice(
    site: Site, unit: Unit, found: Findings, *, due: date, zone: ZoneInfo
) -> UnitNotice:
    domain = display_domain(site.domain)
    subject = f"【网站标识】提醒：{site.name}（{domain}）整改期限为{cn_date(due)}"
    body = f"""{unit.name}：

贵单位“{site.name}”（{domain}）的网站标识加挂期限为 {cn_date(due)}，
距期限只剩最后 1 个工作日，最近一次检查仍未合规。

{_findings_block(found, zone)}

请于 {cn_date(due)} 前完成整改；逾期仍不合规的，将列为逾期并报告编办。
"""
    sms = (
        f"【网站标识】提醒：{unit.name}“{site.name}”（{domain}）网站标识仍未合规"
        f"（{_main_problem(found)}），加挂期限为 {cn_date(due)}，只剩最后 1 个工作日，请尽快整改。"
    )
    return UnitNotice(subject, body, sms)


def overdue_notice(
    site: Site, unit: Unit, found: Findings, *, days_overdue: int | None, zone: ZoneInfo
) -> UnitNotice:
    domain = display_domain(site.domain)
    if site.placement_due is not None:
        late = f"已超过加挂期限（{cn_date(site.placement_due)}）"
        if days_overdue:
            late += f"，逾期 {days_overdue} 个工作日"
    else:
        late = "已超过加挂期限"
    subject = f"【网站标识】{site.name}（{domain}）网站标识加挂逾期"
    body = f"""{unit.name}：

贵单位“{site.name}”（{domain}）{late}，网站标识仍未按要求加挂，已列为逾期，并已报告编办。

{_findings_block(found, zone)}

请立即整改。
"""
    sms = (
        f"【网站标识】{unit.name}：“{site.name}”（{domain}）{late}，网站标识仍未合规"
        f"（{_main_problem(found)}），已列为逾期，详情已发送至经办人邮箱，请立即整改。"
    )
    return UnitNotice(subject, body, sms)


def regressed_notice(site: Site, unit: Unit, found: Findings, *, zone: ZoneInfo) -> UnitNotice:
    domain = display_domain(site.domain)
    subject = f"【网站标识】{site.name}（{domain}）网站标识由合规变为不合规"
    body = f"""{unit.name}：

贵单位“{site.name}”（{domain}）此前检查合规，最近一次检查发现有页面的网站标识不符合要求（可能因网站改版或更换模板），已报告编办。

{_findings_block(found, zone)}

请尽快整改。
"""
    sms = (
        f"【网站标识】{unit.name}：“{site.name}”（{domain}）此前合规，最近检查发现 "
        f"{found.pages_failing} 个页面网站标识不符合要求（{_main_problem(found)}），"
        "详情已发送至经办人邮箱，请尽快整改。"
    )
    return UnitNotice(subject, body, sms)


def _days_left(expires_on: date, today: date) -> str:
    left = (expires_on - today).days
    return "今天到期" if left == 0 else f"还剩 {left} 天"


def expiry_notice(site: Site, unit: Unit, *, expires_on: date, today: date) -> UnitNotice:
    """The unit's reminder that its site's domain expires soon (or today)."""
    domain = display_domain(site.domain)
    day = cn_date(expires_on)
    when = f"将于{day}到期" if expires_on > today else f"今天（{day}）到期"
    subject = f"【网站标识】提醒：{site.name}（{domain}）域名{when}"
    body = f"""{unit.name}：

贵单位“{site.name}”（{domain}）的域名到期日期为 {day}（{_days_left(expires_on, today)}）。
域名到期后网站将无法访问，已加挂的网站标识也随之失效。{EXPIRY_ADVICE}。

续费后，请在网站标识管理系统的“网站信息”中更新域名到期日期。
"""
    sms = (
        f"【网站标识】提醒：{unit.name}“{site.name}”（{domain}）域名{when}"
        f"（{_days_left(expires_on, today)}），{EXPIRY_ADVICE}。"
    )
    return UnitNotice(subject, body, sms)


@dataclass(frozen=True)
class _Contact:
    channel: str
    recipient: str
    user_id: int


def handler_contacts(session: Session, unit_id: int, *, sms: bool) -> list[_Contact]:
    """The unit handlers' addresses, each address once (the first handler who has it)."""
    users = session.scalars(
        select(User)
        .where(User.unit_id == unit_id, User.role == Role.UNIT_HANDLER)
        .order_by(User.id)
    )
    contacts: dict[tuple[str, str], _Contact] = {}
    for user in users:
        if user.email:
            contacts.setdefault(("email", user.email), _Contact("email", user.email, user.id))
        if sms and user.mobile:
            contacts.setdefault(("sms", user.mobile), _Contact("sms", user.mobile, user.id))
    return list(contacts.values())


def _send_to_unit(
    session: Session, site: Site, key: str, notice: UnitNotice, *, now: datetime, sms: bool
) -> list[OutboxMessage]:
    contacts = handler_contacts(session, site.unit_id, sms=sms)
    if not contacts:
        logger.warning(
            "site %s (%s): unit %s has no handler with an e-mail or mobile; %s not sent",
            site.id,
            site.domain,
            site.unit_id,
            key,
        )
        return []
    queued = []
    for contact in contacts:
        row = enqueue(
            session,
            key=f"{key}:{contact.channel}:{contact.user_id}",
            channel=contact.channel,
            recipient=contact.recipient,
            subject=notice.subject if contact.channel == "email" else None,
            body=notice.email_body if contact.channel == "email" else notice.sms_body,
            now=now,
        )
        if row is not None:
            queued.append(row)
    return queued


def local_today(now: datetime, config: Config) -> date:
    return localtime.today(now, config.calendar.zone)


def on_state_change(
    session: Session,
    change: SiteStateChange,
    *,
    now: datetime,
    calendar: WorkCalendar,
    config: Config,
) -> list[OutboxMessage]:
    """Queue the unit's notice for one recorded change (pending, overdue, regressed); the rows
    queued by this call (none when they were queued before). Call it in the transaction that
    recorded the change (``apply_check``, ``reevaluate_all``)."""
    site = session.get(Site, change.site_id)
    if site is None or not site.monitored or site.state is not change.to_state:
        return []  # a change the site has already left is history, not news for the unit
    zone = config.calendar.zone
    sms = config.sms.kind != "none"
    found = findings(session, change.check_id)
    evaluation = evaluate_site(site, today=local_today(now, config), calendar=calendar)
    if change.to_state is MonitorState.PENDING:
        if site.placement_due is None:  # evaluate never says pending without a deadline
            return []
        days_left = evaluation.working_days_left or 0
        notice = pending_notice(
            site, site.unit, found, due=site.placement_due, days_left=days_left, zone=zone
        )
        key = f"site-pending:{site.id}:{site.placement_due.isoformat()}"
    elif change.to_state is MonitorState.OVERDUE:
        days = change.detail.get("working_days_overdue") if change.detail else None
        notice = overdue_notice(
            site,
            site.unit,
            found,
            days_overdue=days if isinstance(days, int) else evaluation.working_days_overdue,
            zone=zone,
        )
        key = f"site-overdue:{change.id}"
    elif change.to_state is MonitorState.REGRESSED:
        notice = regressed_notice(site, site.unit, found, zone=zone)
        key = f"site-regressed:{change.id}"
    else:
        return []
    return _send_to_unit(session, site, key, notice, now=now, sms=sms)


def reminders(
    session: Session,
    *,
    today: date,
    now: datetime,
    calendar: WorkCalendar,
    config: Config | None = None,
) -> list[OutboxMessage]:
    """The daily pass: remind units whose site is still failing on the working day before its
    deadline. A monitor that was down that day catches up on any day up to the deadline."""
    config = config if config is not None else Config()
    zone = config.calendar.zone
    sites = session.scalars(
        select(Site)
        .where(
            Site.monitored.is_(True),
            Site.state == MonitorState.PENDING,
            Site.placement_due.is_not(None),
            Site.placement_due >= today,
        )
        .order_by(Site.id)
    ).all()
    queued: list[OutboxMessage] = []
    for site in sites:
        due = site.placement_due
        assert due is not None
        if today < working_day_before(due, calendar):
            continue
        found = findings(session, site.last_check_id)
        notice = reminder_notice(site, site.unit, found, due=due, zone=zone)
        key = f"site-reminder:{site.id}:{due.isoformat()}"
        queued += _send_to_unit(session, site, key, notice, now=now, sms=config.sms.kind != "none")
    return queued


def expiry_reminders(
    session: Session, *, today: date, now: datetime, config: Config | None = None
) -> list[OutboxMessage]:
    """The daily pass: remind units whose site's domain expires in 30 or 7 days or today, each
    threshold once per expiry date (``workflow.deadlines.expiry_reminder``)."""
    config = config if config is not None else Config()
    sites = session.scalars(
        select(Site)
        .where(
            Site.monitored.is_(True),
            Site.expires_on >= today,
            Site.expires_on <= today + timedelta(days=max(EXPIRY_REMINDER_DAYS)),
        )
        .order_by(Site.id)
    ).all()
    queued: list[OutboxMessage] = []
    for site in sites:
        expires_on = site.expires_on
        days = expiry_reminder(expires_on, today)
        if expires_on is None or days is None:
            continue
        notice = expiry_notice(site, site.unit, expires_on=expires_on, today=today)
        key = f"domain-expiry:{site.id}:{expires_on.isoformat()}:{days}"
        queued += _send_to_unit(session, site, key, notice, now=now, sms=config.sms.kind != "none")
    return queued


# --- office digests --------------------------------------------------------------------------


def _digest_key(office_id: int, day: date | None = None) -> str:
    return f"office-digest:{office_id}:" + (f"{day.isoformat()}:" if day else "")


def _digest_since(session: Session, office: Office, *, day: date, now: datetime) -> datetime:
    """The previous digest of this office, or one day back: no change is missed or repeated."""
    previous = session.scalar(
        select(func.max(OutboxMessage.created_at)).where(
            OutboxMessage.key.startswith(_digest_key(office.id), autoescape=True),
            ~OutboxMessage.key.startswith(_digest_key(office.id, day), autoescape=True),
            OutboxMessage.created_at < now,
        )
    )
    return previous if previous is not None else now - timedelta(days=1)


def digest_text(
    office: Office,
    *,
    day: date,
    since: datetime,
    until: datetime,
    counts: Counter[MonitorState],
    changes: Sequence[tuple[SiteStateChange, Site]],
    report_url: str | None,
    zone: ZoneInfo,
    max_changes: int,
    waiting: Sequence[Application] = (),
    expiring: Sequence[Site] = (),
) -> tuple[str, str]:
    subject = f"【网站标识】{office.name}网站标识合规检查日报（{cn_date(day)}）"
    total = sum(counts.values())
    lines = [
        f"{office.name}：",
        "",
        f"网站标识合规检查日报（{cn_date(day)}），统计时段：{cn_time(since, zone)} 至 "
        f"{cn_time(until, zone)}。",
        "",
        f"一、管辖网站当前状态（共 {total} 个）",
    ]
    lines += [f"  {STATE_LABELS[state]}：{counts[state]} 个" for state in MonitorState]
    lines += ["", f"二、本期状态变化（{len(changes)} 项）"]
    if not changes:
        lines.append("  本期没有网站状态变化。")
    for n, (change, site) in enumerate(changes[:max_changes], 1):
        extra = ""
        overdue = (change.detail or {}).get("working_days_overdue")
        if change.to_state is MonitorState.OVERDUE and overdue:
            extra = f"，逾期 {overdue} 个工作日"
        failing = (change.detail or {}).get("pages_failing")
        if change.to_state in FAILING_STATES and failing:
            extra += f"，未通过页面 {failing} 个"
        lines.append(
            f"  {n}. {site.name}（{display_domain(site.domain)}）："
            f"{STATE_LABELS[change.from_state]} → {STATE_LABELS[change.to_state]}{extra}"
            f"（{cn_time(change.at, zone)}）"
        )
    if len(changes) > max_changes:
        lines.append(f"  另有 {len(changes) - max_changes} 项变化，详见报告。")
    lines += _waiting_lines(waiting, day)
    lines += _expiry_lines(expiring, day)
    lines += ["", f"详细报告：{report_url or '（报告链接待开通）'}", ""]
    return subject, "\n".join(lines)


_WAITING_STEPS: dict[AppState, str] = {
    AppState.SUBMITTED: "待编办审核",
    AppState.APPROVED_ONLINE: "待确认纸质材料",
}
"""The application states that wait for the office, as its digest names them."""


def _waiting_due(application: Application) -> date | None:
    if application.state is AppState.SUBMITTED:
        return application.office_review_due
    return application.materials_due


def _waiting_lines(waiting: Sequence[Application], day: date) -> list[str]:
    """Section 三: the applications waiting for the office, oldest first, with their deadlines
    and those past them (逾期)."""
    overdue = [a for a in waiting if (due := _waiting_due(a)) is not None and due < day]
    lines = ["", f"三、待办申请（{len(waiting)} 件，其中逾期 {len(overdue)} 件）"]
    if not waiting:
        lines.append("  目前没有等待本编办办理的申请。")
    for n, application in enumerate(waiting, 1):
        due = _waiting_due(application)
        deadline = f"，期限 {cn_date(due)}" if due is not None else ""
        late = "，已逾期" if application in overdue else ""
        lines.append(
            f"  {n}. 申请序号 {application.serial or application.id}："
            f"{application.unit.name}“{application.site_name}”"
            f"（{display_domain(application.domain)}），"
            f"{_WAITING_STEPS[application.state]}{deadline}{late}"
        )
    return lines


def _expiry_lines(sites: Sequence[Site], day: date) -> list[str]:
    """Section 四: the office's sites whose domain expires within 30 days or has expired."""
    states = [(site, expiry_status(site.expires_on, day)) for site in sites]
    expired = sum(1 for _, status in states if status == "expired")
    lines = ["", f"四、域名到期（{len(states)} 个网站，其中已过期 {expired} 个）"]
    if not states:
        lines.append(f"  没有 {EXPIRY_SOON_DAYS} 天内到期或已过期的域名。")
    for n, (site, status) in enumerate(states, 1):
        assert site.expires_on is not None and status is not None
        if status == "expired":
            when = f"已过期 {(day - site.expires_on).days} 天"
        else:
            when = _days_left(site.expires_on, day)
        lines.append(
            f"  {n}. {site.unit.name}“{site.name}”（{display_domain(site.domain)}）："
            f"{EXPIRY_LABELS[status]}，到期日期 {cn_date(site.expires_on)}（{when}）"
        )
    if states:
        lines.append(f"  请督促开办单位：{EXPIRY_ADVICE}。")
    return lines


def _office_expiring(session: Session, office: Office, day: date) -> list[Site]:
    """The office's monitored sites whose domain expires within 30 days or has expired,
    soonest (longest expired) first."""
    return list(
        session.scalars(
            select(Site)
            .where(
                Site.office_id == office.id,
                Site.monitored.is_(True),
                Site.expires_on <= day + timedelta(days=EXPIRY_SOON_DAYS),
            )
            .order_by(Site.expires_on, Site.id)
        )
    )


def _office_waiting(session: Session, office: Office) -> list[Application]:
    """What waits for ``office``: online reviews and paper materials, oldest first."""
    return list(
        session.scalars(
            select(Application)
            .where(
                Application.office_id == office.id,
                Application.state.in_(list(_WAITING_STEPS)),
            )
            .order_by(Application.submitted_on, Application.id)
        )
    )


def _office_changes(
    session: Session, office: Office, since: datetime, until: datetime
) -> list[tuple[SiteStateChange, Site]]:
    rows = session.execute(
        select(SiteStateChange, Site)
        .join(Site, Site.id == SiteStateChange.site_id)
        .where(
            Site.office_id == office.id,
            SiteStateChange.at >= since,
            SiteStateChange.at < until,
        )
        .order_by(SiteStateChange.at, SiteStateChange.id)
    )
    return [(change, site) for change, site in rows]


def _office_counts(session: Session, office: Office) -> Counter[MonitorState]:
    rows = session.execute(
        select(Site.state, func.count())
        .where(Site.office_id == office.id, Site.monitored.is_(True))
        .group_by(Site.state)
    )
    return Counter({state: count for state, count in rows})


def office_digests(
    session: Session,
    *,
    day: date,
    now: datetime,
    config: Config,
    report_url: str | None = None,
    offices: Iterable[Office] | None = None,
) -> list[OutboxMessage]:
    """Queue each office's daily digest: its own sites' state changes since its previous digest
    and their counts by state, with a link to its page in the latest nightly report (or
    ``report_url``). By e-mail to every office that has an address and sites; to the
    ``[notify] webhook_url`` robot for every office with at least one change."""
    zone = config.calendar.zone
    webhook = config.notify.webhook_url
    if offices is None:
        offices = session.scalars(select(Office).order_by(Office.id)).all()
    queued: list[OutboxMessage] = []
    for office in offices:
        counts = _office_counts(session, office)
        waiting = _office_waiting(session, office)
        expiring = _office_expiring(session, office, day)
        if not counts and not waiting:
            continue
        since = _digest_since(session, office, day=day, now=now)
        changes = _office_changes(session, office, since, now)
        targets = []
        if office.email:
            targets.append(("email", office.email, MAX_DIGEST_CHANGES))
        if webhook and changes:
            # The robot's URL carries its key: the outbox names the channel, never the URL.
            targets.append(("webhook", WEBHOOK_RECIPIENT, MAX_WEBHOOK_CHANGES))
        for channel, recipient, limit in targets:
            subject, body = digest_text(
                office,
                day=day,
                since=since,
                until=now,
                counts=counts,
                changes=changes,
                report_url=report_url or office_report_url(config, office.code),
                zone=zone,
                max_changes=limit,
                waiting=waiting,
                expiring=expiring,
            )
            row = enqueue(
                session,
                key=f"{_digest_key(office.id, day)}{channel}",
                channel=channel,
                recipient=recipient,
                subject=subject if channel == "email" else None,
                body=body if channel == "email" else f"{subject}\n{body}",
                now=now,
            )
            if row is not None:
                queued.append(row)
    return queued
