"""A site's monitor state: the crawler's verdict split by the placement deadline.

``evaluate`` is a pure function of the verdict, the deadline and the day; ``apply_check`` and
``reevaluate_all`` store its answer on the site and record each change with its time, so
reports can show the history. None of them reads the clock: ``now`` and ``today`` come from
the caller (``today`` is the calendar day in the deployment's timezone).

Deadline rules:

- A site is ``pending`` while it fails on or before ``placement_due`` (the deadline day is
  still inside the deadline), ``overdue`` from the next day on, with the working days counted
  after the deadline up to and including today (so a Saturday just past a Friday deadline is
  overdue by 0 working days).
- A failing site with no known deadline (sites imported from the old registry, whose badge was
  issued long ago) is ``overdue`` with the working days overdue unknown (None): its deadline
  has certainly passed, and calling it ``pending`` would let it fail forever without alarm.
- A failing site that was ever compliant is ``regressed``, whatever its deadline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import MonitorState, Site, SiteCheck, SiteStateChange, SiteStatus
from store.records import reasons_of
from workflow.workdays import UnknownYear, WorkCalendar

logger = logging.getLogger(__name__)

FAILING_STATES = frozenset({MonitorState.PENDING, MonitorState.OVERDUE, MonitorState.REGRESSED})
"""The states of a site whose badge check failed (the others are compliant or no verdict)."""

_DIRECT = {
    SiteStatus.UNCHECKED: MonitorState.UNCHECKED,
    SiteStatus.UNREACHABLE: MonitorState.UNREACHABLE,
    SiteStatus.DNS_MISMATCH: MonitorState.DNS_MISMATCH,
    SiteStatus.COMPLIANT: MonitorState.COMPLIANT,
}


@dataclass(frozen=True)
class Evaluation:
    """A site's state on one day; the counts are set only where they mean something."""

    state: MonitorState
    working_days_overdue: int | None = None  # overdue with a known deadline
    working_days_left: int | None = None  # pending: working days after today up to the deadline


def evaluate(
    crawl_status: SiteStatus,
    *,
    placement_due: date | None,
    today: date,
    ever_compliant: bool,
    calendar: WorkCalendar,
) -> Evaluation:
    """The monitor state for a crawl verdict on ``today``. Raises ``UnknownYear`` when the
    calendar cannot count the working days (a statutory deadline is never guessed)."""
    direct = _DIRECT.get(crawl_status)
    if direct is not None:
        return Evaluation(direct)
    if ever_compliant:
        return Evaluation(MonitorState.REGRESSED)
    if placement_due is None:
        return Evaluation(MonitorState.OVERDUE)
    if today <= placement_due:
        return Evaluation(
            MonitorState.PENDING,
            working_days_left=calendar.workdays_between(today, placement_due),
        )
    return Evaluation(
        MonitorState.OVERDUE,
        working_days_overdue=calendar.workdays_between(placement_due, today),
    )


def evaluate_site(site: Site, *, today: date, calendar: WorkCalendar) -> Evaluation:
    """``evaluate`` for a stored site: its verdict, deadline and history."""
    return evaluate(
        site.status,
        placement_due=site.placement_due,
        today=today,
        ever_compliant=site.ever_compliant,
        calendar=calendar,
    )


@dataclass(frozen=True)
class Standing:
    """A site's stored state and where it stands against its deadline today: what the report
    and ``badgewatch status`` both show, so they never disagree."""

    state: MonitorState
    placement_due: date | None
    working_days_left: int | None = None  # pending
    working_days_overdue: int | None = None  # overdue with a known deadline
    unknown_year: UnknownYear | None = None  # the calendar cannot count the working days

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "placement_due": self.placement_due.isoformat() if self.placement_due else None,
            "working_days_left": self.working_days_left,
            "working_days_overdue": self.working_days_overdue,
        }


def standing(site: Site, *, today: date, calendar: WorkCalendar) -> Standing:
    """The stored state with today's working days left or overdue, counted only for a failing
    site (a regressed site's first deadline is long gone: no count)."""
    base = Standing(site.state, site.placement_due)
    if site.state not in FAILING_STATES or site.state is MonitorState.REGRESSED:
        return base
    try:
        evaluation = evaluate_site(site, today=today, calendar=calendar)
    except UnknownYear as exc:
        return replace(base, unknown_year=exc)
    return replace(
        base,
        working_days_left=evaluation.working_days_left,
        working_days_overdue=evaluation.working_days_overdue,
    )


def working_day_before(day: date, calendar: WorkCalendar) -> date:
    """The last working day strictly before ``day`` (holidays and 调休 included)."""
    before = day - timedelta(days=1)
    while not calendar.is_workday(before):
        before -= timedelta(days=1)
    return before


def _detail(site: Site, check: SiteCheck | None, evaluation: Evaluation) -> dict[str, Any]:
    pages = reasons_of(check.reasons)["pages"] if check is not None else {}
    return {
        "crawl_status": site.status.value,
        "check_id": check.id if check is not None else None,
        "pages_checked": check.pages_checked if check is not None else None,
        "pages_failing": check.pages_failing if check is not None else None,
        "reasons": pages,
        "placement_due": site.placement_due.isoformat() if site.placement_due else None,
        "working_days_overdue": evaluation.working_days_overdue,
        "working_days_left": evaluation.working_days_left,
    }


def _settle(
    session: Session, site: Site, *, now: datetime, calendar: WorkCalendar, today: date
) -> SiteStateChange | None:
    if site.status is SiteStatus.COMPLIANT:
        site.ever_compliant = True
    evaluation = evaluate_site(site, today=today, calendar=calendar)
    if evaluation.state is site.state:
        return None
    check = session.get(SiteCheck, site.last_check_id) if site.last_check_id else None
    change = SiteStateChange(
        site_id=site.id,
        from_state=site.state,
        to_state=evaluation.state,
        at=now,
        check_id=site.last_check_id,
        detail=_detail(site, check, evaluation),
    )
    session.add(change)
    logger.info(
        "site %s (%s): %s -> %s", site.id, site.domain, site.state.value, evaluation.state.value
    )
    site.state = evaluation.state
    site.state_since = now
    session.flush()
    return change


def apply_check(
    session: Session, site: Site, *, now: datetime, calendar: WorkCalendar, today: date
) -> SiteStateChange | None:
    """Store the state that follows from the site's last complete check; the change, if any.

    Call it after the crawler updated ``site.status``. The row is re-read under a lock
    (PostgreSQL) so a concurrent ``reevaluate_all`` cannot record the same change twice.
    """
    session.flush()
    session.refresh(site, with_for_update=True)
    return _settle(session, site, now=now, calendar=calendar, today=today)


def _lags(site: Site, *, calendar: WorkCalendar, today: date) -> bool:
    """Whether settling the site would write anything (read without a lock)."""
    if site.status is SiteStatus.COMPLIANT and not site.ever_compliant:
        return True
    evaluation = evaluate_site(site, today=today, calendar=calendar)
    return evaluation.state is not site.state


def reevaluate_all(
    session: Session, *, now: datetime, calendar: WorkCalendar, today: date
) -> list[SiteStateChange]:
    """The daily pass: deadlines pass without a crawl (pending → overdue), and any site whose
    state lags its stored verdict (a monitor that died between the two) is brought in line.

    Only the sites that change are locked (PostgreSQL) and read again before they are written,
    so the pass neither blocks the crawl's own settling nor records a change twice.
    """
    sites = session.scalars(select(Site).where(Site.monitored.is_(True)).order_by(Site.id)).all()
    changes = []
    for site in sites:
        if not _lags(site, calendar=calendar, today=today):
            continue
        session.refresh(site, with_for_update=True)
        change = _settle(session, site, now=now, calendar=calendar, today=today)
        if change is not None:
            changes.append(change)
    return changes
