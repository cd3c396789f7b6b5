"""What people do with applications: create, edit, submit, review, confirm materials, issue.

Each operation takes the caller's Session (the entry point owns the transaction), an ``Actor``
and ``now``; it checks who may act, applies one event of ``workflow.machine`` and records the
transition. Two reviewers racing on one application: the optimistic version column lets one win
and the other get ``ConcurrentChange`` when its transaction flushes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event as orm_events
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from badgewatch import localtime
from badgewatch.config import Config
from badgewatch.domains import display_domain
from badgewatch.vocabulary import APP_STATE_LABELS
from notify.outbox import enqueue
from store.db import transaction
from store.models import (
    Application,
    ApplicationKind,
    AppState,
    Office,
    Role,
    Site,
    SiteSource,
    Transition,
    Unit,
    User,
)
from workflow import claims, issuance, notices, redpages, serials
from workflow.errors import ConcurrentChange, NotFound, PermissionDenied, ReasonRequired
from workflow.form import ApplicationForm
from workflow.machine import EDITABLE, REJECTED, RULES, Event, next_state
from workflow.workdays import WorkCalendar


@dataclass(frozen=True)
class Actor:
    """Who is acting: ``unit:NAME``, ``office:CODE``, ``conac``, ``operator`` or ``system``."""

    role: Role
    name: str

    @classmethod
    def parse(cls, text: str) -> Actor:
        kind, _, name = text.partition(":")
        if kind == "unit" and name:
            return cls(Role.UNIT_HANDLER, name)
        if kind == "office" and name:
            return cls(Role.OFFICE_REVIEWER, name)
        if kind == "conac" and not name:
            return cls(Role.CONAC_REVIEWER, "CONAC")
        if kind == "operator":
            return cls(Role.OPERATOR, name or "operator")
        raise ValueError(f"--as must be unit:NAME, office:CODE, conac or operator, not {text!r}")

    def __str__(self) -> str:
        prefix = {
            Role.UNIT_HANDLER: "unit:",
            Role.OFFICE_REVIEWER: "office:",
            Role.OPERATOR: "operator:",
        }.get(self.role)
        return f"{prefix}{self.name}" if prefix else self.name.lower()


SYSTEM = Actor(Role.SYSTEM, "system")


@contextmanager
def changing(factory: sessionmaker[Session], application_id: int) -> Iterator[Session]:
    """A transaction on one application: losing a race raises ``ConcurrentChange``, whole."""
    try:
        with transaction(factory) as session:
            yield session
    except StaleDataError as exc:
        raise ConcurrentChange(application_id, _shown(factory, application_id)) from exc
    except OperationalError as exc:
        # SQLite in WAL mode refuses to upgrade a stale read snapshot to a write.
        if "database is locked" in str(exc):
            raise ConcurrentChange(application_id, _shown(factory, application_id)) from exc
        raise


def _shown(factory: sessionmaker[Session], application_id: int) -> str | None:
    """The 申请序号 a message quotes for the application that changed under us, if it has one."""
    try:
        with transaction(factory) as session:
            application = session.get(Application, application_id)
            return serials.shown(application) if application is not None else None
    except OperationalError:  # still locked: the id will do
        return None


@dataclass
class Workflow:
    """The application/review workflow bound to one configuration and calendar."""

    config: Config
    calendar: WorkCalendar

    def today(self, now: datetime) -> date:
        """The day deadlines count from: today in ``[calendar] timezone``."""
        return localtime.today(now, self.config.calendar.zone)

    # -- reading ---------------------------------------------------------------------------

    def get(self, session: Session, application_id: int, actor: Actor | None = None) -> Application:
        application = session.get(Application, application_id)
        if application is None:
            raise NotFound(f"申请 {application_id} 不存在")
        if actor is not None:
            self._check_can_see(application, actor)
        return application

    def _check_can_see(self, application: Application, actor: Actor) -> None:
        if actor.role is Role.UNIT_HANDLER and application.unit.name != actor.name:
            raise PermissionDenied(f"单位“{actor.name}”只能查看和修改本单位的申请")
        if actor.role is Role.OFFICE_REVIEWER and application.office.code != actor.name:
            raise PermissionDenied(
                f"编办 {actor.name} 不是申请 {serials.shown(application)} 的同级机构编制部门"
                f"（应由 {application.office.code} {application.office.name} 审核）"
            )

    # -- the unit's side -------------------------------------------------------------------

    def _unit_for(self, session: Session, form: ApplicationForm, actor: Actor) -> Unit:
        if actor.role is not Role.UNIT_HANDLER:
            raise PermissionDenied("只有单位经办人可以填写申请")
        if form.unit.name != actor.name:
            raise PermissionDenied(
                f"开办主体名称“{form.unit.name}”与当前单位“{actor.name}”不一致：单位只能为本单位申请"
            )
        office = session.scalar(select(Office).where(Office.code == form.office))
        if office is None:
            raise NotFound(f"office（同级机构编制部门）：编办代码 {form.office} 不存在")
        unit = session.scalar(select(Unit).where(Unit.name == form.unit.name))
        if unit is None:
            unit = Unit(name=form.unit.name, office=office)
            session.add(unit)
        elif unit.office_id != office.id:
            raise PermissionDenied(
                f"单位“{unit.name}”隶属编办 {unit.office.code}，不能向编办 {form.office} 申请"
            )
        unit.org_type = form.unit.org_type
        unit.address = form.unit.address
        unit.functions = form.unit.functions
        session.flush()
        handler = session.scalar(
            select(User).where(
                User.name == form.handler.name,
                User.role == Role.UNIT_HANDLER,
                User.unit_id == unit.id,
            )
        )
        if handler is None:
            handler = User(name=form.handler.name, role=Role.UNIT_HANDLER, unit_id=unit.id)
            session.add(handler)
        handler.email = form.handler.email
        handler.mobile = form.handler.mobile
        return unit

    def create(
        self, session: Session, form: ApplicationForm, actor: Actor, now: datetime
    ) -> Application:
        unit = self._unit_for(session, form, actor)
        site = claims.check_claim(session, unit, claims.Claim.of_form(form), None)
        application = Application(
            unit=unit,
            office=unit.office,
            kind=ApplicationKind(form.kind),
            state=AppState.DRAFT,
            site_name=form.site.name,
            domain=form.site.domain,
            form=_stored(form, site),
            rereview_site=site,
            created_at=now,
            updated_at=now,
        )
        session.add(application)
        session.flush()
        return application

    def update(
        self,
        session: Session,
        application_id: int,
        form: ApplicationForm,
        actor: Actor,
        now: datetime,
    ) -> Application:
        application = self.get(session, application_id, actor)
        if application.state not in EDITABLE:
            raise PermissionDenied(
                f"申请 {serials.shown(application)} 当前状态为“"
                f"{APP_STATE_LABELS[application.state]}”，不能修改；只有草稿或被退回的申请可以修改"
            )
        unit = self._unit_for(session, form, actor)
        if unit.id != application.unit_id:
            raise PermissionDenied("不能把申请改到其他单位名下")
        claim = claims.Claim.of_form(form)
        site = claims.check_claim(session, unit, claim, application.id)
        with claims.holding(session, application, claim):  # a rejected one is open
            application.kind = ApplicationKind(form.kind)
            application.site_name = form.site.name
            application.domain = form.site.domain
            application.form = _stored(form, site)
            application.rereview_site = site
            application.updated_at = now
        return application

    def submit(
        self, session: Session, application_id: int, actor: Actor, now: datetime
    ) -> Application:
        application = self.get(session, application_id, actor)
        event = Event.RESUBMIT if application.state in REJECTED else Event.SUBMIT
        claim = claims.Claim.of_application(application)
        if actor.role is Role.UNIT_HANDLER:  # another role is refused by _fire, in words
            with session.no_autoflush:
                claims.check_claim(session, application.unit, claim, application.id)
        with claims.holding(session, application, claim):
            self._fire(session, application, event, actor, now)
        if application.serial is None:
            application.serial = serials.new_serial(session, self.config.badge, application.office)
        application.submitted_on = self.today(now)
        application.office_review_due = self.calendar.add_workdays(
            application.submitted_on, self.config.deadlines.office_review_days
        )
        application.materials_due = None
        return application

    # -- the reviewers' side ---------------------------------------------------------------

    def review(
        self,
        session: Session,
        application_id: int,
        actor: Actor,
        now: datetime,
        *,
        approve: bool,
        reason: str | None = None,
    ) -> Application:
        """The online review: by the office of the same level, then by CONAC."""
        application = self.get(session, application_id, actor)
        if actor.role is Role.OFFICE_REVIEWER:
            event = Event.OFFICE_APPROVE if approve else Event.OFFICE_REJECT
        elif actor.role is Role.CONAC_REVIEWER:
            event = Event.CONAC_APPROVE if approve else Event.CONAC_REJECT
        else:
            raise PermissionDenied("只有编办或 CONAC 审核人员可以审核申请")
        if approve:
            _refuse_reissue(session, application)
        self._fire(session, application, event, actor, now, reason=reason)
        if event is Event.CONAC_APPROVE:
            application.materials_due = self.calendar.add_workdays(
                self.today(now), self.config.deadlines.materials_days
            )
        return application

    def materials(
        self,
        session: Session,
        application_id: int,
        actor: Actor,
        now: datetime,
        *,
        confirm: bool,
        reason: str | None = None,
    ) -> Application:
        """The office confirms the stamped paper materials; confirming issues the badge."""
        application = self.get(session, application_id, actor)
        if actor.role is not Role.OFFICE_REVIEWER:
            raise PermissionDenied("只有同级编办可以确认纸质材料")
        if not confirm:
            self._fire(session, application, Event.REJECT_MATERIALS, actor, now, reason=reason)
            return application
        self._fire(session, application, Event.CONFIRM_MATERIALS, actor, now, reason=reason)
        self._issue(session, application, now)
        return application

    # -- internals -------------------------------------------------------------------------

    def _fire(
        self,
        session: Session,
        application: Application,
        event: Event,
        actor: Actor,
        now: datetime,
        *,
        reason: str | None = None,
    ) -> None:
        rule = RULES[event]
        if actor.role is not rule.role:
            raise PermissionDenied(f"角色 {actor.role.value} 不能进行 {event.value}")
        reason = (reason or "").strip() or None
        if rule.needs_reason and reason is None:
            raise ReasonRequired("审核不通过时必须填写原因，单位将看到这一原因")
        source = application.state
        application.state = next_state(source, event)
        application.updated_at = now
        transition = Transition(
            application=application,
            event=event.value,
            from_state=source,
            to_state=application.state,
            actor=str(actor),
            role=actor.role,
            at=now,
            reason=reason,
        )
        session.add(transition)
        if event in notices.REJECTION_STEPS:
            assert reason is not None  # every rejection needs a reason
            self._notify_rejection(session, application, transition, event, reason, now)

    def _notify_rejection(
        self,
        session: Session,
        application: Application,
        transition: Transition,
        event: Event,
        reason: str,
        now: datetime,
    ) -> None:
        """Queue the rejection notice with the decision, when the transaction flushes (so the
        first reviewer to commit still wins, whole); keyed by the transition, so a later
        rejection (after a resubmit) is a new notice and a repeat of this one is not."""
        with session.no_autoflush:  # loading the unit must not flush before this is queued
            rereviewed = application.rereview_site
            notice = notices.application_rejected(
                event,
                rereview_of=(rereviewed.identifier if rereviewed is not None
                             and application.kind is ApplicationKind.REREVIEW else None),
                unit_name=application.unit.name,
                serial=application.serial or str(application.id),
                site_name=application.site_name,
                domain=application.domain,
                reason=reason,
                decided_at=now,
                zone=self.config.calendar.zone,
            )
            form = ApplicationForm.from_json(application.form)

            def queue(flushed: Session) -> None:
                key = f"app-rejected:{application.id}:{transition.id}"
                _queue(flushed, key, form, notice, now)

            session.info.setdefault(_AFTER_FLUSH, []).append(queue)

    def _issue(self, session: Session, application: Application, now: datetime) -> Site:
        form = ApplicationForm.from_json(application.form)
        if application.kind is ApplicationKind.REREVIEW:
            return self._rereviewed(session, application, form, now)
        _refuse_reissue(session, application)  # a site's live identifier is never replaced
        code = issuance.issue(session, self.config.badge, application.office)
        notified_on = self.today(now)
        placement_due = self.calendar.add_workdays(
            notified_on, self.config.deadlines.placement_days
        )
        site = Site(unit_id=application.unit_id, created_at=now, source=SiteSource.ISSUED)
        session.add(site)
        site.office_id = application.office_id
        site.name = form.site.name
        site.domain = form.site.domain
        site.english_domain = form.site.english_domain
        site.ipv4 = form.site.ipv4
        site.ipv6 = form.site.ipv6
        site.identifier = code.identifier
        site.certificate = code.certificate
        site.notified_on = notified_on
        site.placement_due = placement_due
        site.monitored = True
        application.site = site
        if form.site.red_page:
            session.flush()  # the site's id, for its red page
            redpages.create(session, site, now)
        self._fire(session, application, Event.ISSUE_BADGE, SYSTEM, now)
        notice = notices.badge_issued(
            self.config.badge,
            code,
            unit_name=application.unit.name,
            serial=application.serial or str(application.id),
            site_name=site.name,
            domain=site.domain,
            notified_on=notified_on,
            placement_due=placement_due,
            placement_days=self.config.deadlines.placement_days,
        )
        key = f"badge-issued:{application.id}:{code.identifier}"
        _queue(session, key, form, notice, now)
        return site

    def _rereviewed(
        self, session: Session, application: Application, form: ApplicationForm, now: datetime
    ) -> Site:
        """An approved re-review: the site keeps its identifier, certificate, placement deadline
        and monitor state (its badge is already on its pages); its details are the form's, the
        day is recorded, and the unit is told 复核通过 with the same code."""
        site = application.rereview_site
        if site is None or site.unit_id != application.unit_id:  # stored before re-reviews
            raise PermissionDenied(  # named their site, or the site changed hands since
                f"申请 {serials.shown(application)} 没有指明本单位所复核的已开办网站，"
                "不能复核通过；请退回，由单位修改申请（选择复核的已开办网站）后重新提交"
            )
        site.name = form.site.name
        site.english_domain = form.site.english_domain
        site.ipv4 = form.site.ipv4
        site.ipv6 = form.site.ipv6
        site.rereviewed_on = self.today(now)
        application.site = site
        self._fire(session, application, Event.ISSUE_BADGE, SYSTEM, now)
        code = (issuance.make_code(self.config.badge, site.identifier, site.certificate)
                if site.certificate else None)
        notice = notices.rereview_approved(
            self.config.badge,
            code,
            identifier=site.identifier,
            unit_name=application.unit.name,
            serial=serials.shown(application),
            site_name=site.name,
            domain=site.domain,
            rereviewed_on=site.rereviewed_on,
        )
        key = f"rereview-approved:{application.id}:{site.identifier}"
        _queue(session, key, form, notice, now)
        return site


def _refuse_reissue(session: Session, application: Application) -> None:
    """A ``new`` application for a domain that already has a site (stored before such
    applications were refused at submit, or the site imported since) is not approved: issuing
    would replace the site's live identifier, and every page showing it would then fail."""
    if application.kind is not ApplicationKind.NEW:
        return
    with session.no_autoflush:
        site = claims.holder_of(session, application.domain)
    if site is None:
        return
    shown = display_domain(application.domain)
    if site.unit_id != application.unit_id:
        raise PermissionDenied(
            f"域名 {shown} 已登记在其他单位名下（网站标识 {site.identifier}），"
            f"申请 {serials.shown(application)} 不能通过；请退回该申请"
        )
    raise PermissionDenied(
        f"域名 {shown} 已发放网站标识（{site.identifier}），申请 {serials.shown(application)}"
        " 是“新开办网站申请”，通过将替换该网站正在使用的标识，不能通过；请退回该申请，"
        "由单位将申请类型改为“已开办网站复核”并选择该网站后重新提交"
    )


def _stored(form: ApplicationForm, site: Site | None) -> dict[str, Any]:
    """The form as kept: a re-review names its site by identifier, however it was typed."""
    data = form.to_json()
    if site is not None:
        data["site"]["identifier"] = site.identifier
    return data


_AFTER_FLUSH = "workflow.after_flush"  # Session.info: notices queued once their rows exist


@orm_events.listens_for(Session, "after_flush_postexec")
def _queue_after_flush(session: Session, _context: object) -> None:
    """Queue the notices a step left in ``session.info``, now that its transition has an id."""
    for queue in session.info.pop(_AFTER_FLUSH, []):
        queue(session)


def _queue(
    session: Session, key: str, form: ApplicationForm, notice: notices.Notice, now: datetime
) -> None:
    """Queue ``notice`` to the form's handler by email and SMS, in the caller's transaction."""
    handler = form.handler
    enqueue(
        session,
        key=f"{key}:email",
        channel="email",
        recipient=handler.email,
        subject=notice.subject,
        body=notice.email_body,
        now=now,
    )
    enqueue(
        session,
        key=f"{key}:sms",
        channel="sms",
        recipient=handler.mobile,
        subject=None,
        body=notice.sms_body,
        now=now,
    )


def describe(application: Application, *, zone: ZoneInfo) -> dict[str, Any]:
    """The JSON a program reads from ``app show --json``; times in ``zone``, with their offset."""
    site = application.site
    return {
        "id": application.id,
        "serial": application.serial,
        "kind": application.kind.value,
        "rereview_site": (application.rereview_site.identifier
                          if application.rereview_site is not None else None),
        "state": application.state.value,
        "unit": application.unit.name,
        "office": application.office.code,
        "site_name": application.site_name,
        "domain": application.domain,
        "form": application.form,
        "submitted_on": _iso(application.submitted_on),
        "deadlines": {
            "office_review": _iso(application.office_review_due),
            "materials": _iso(application.materials_due),
            "placement": _iso(site.placement_due if site else None),
        },
        "badge": None
        if site is None
        else {
            "identifier": site.identifier,
            "certificate": site.certificate,
            "notified_on": _iso(site.notified_on),
            "rereviewed_on": _iso(site.rereviewed_on),
        },
        "history": [
            {
                "event": t.event,
                "from": t.from_state.value,
                "to": t.to_state.value,
                "actor": t.actor,
                "role": t.role.value,
                "at": localtime.local(t.at, zone).isoformat(),
                "reason": t.reason,
            }
            for t in application.transitions
        ],
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
