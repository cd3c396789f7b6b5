"""A site's monitor state: the crawler's verdict split by the placement deadline.

``evaluate`` is a pure function of the verdict, the deadline and the day; ``standing`` is where
a stored site stands today, as the report and ``badgewatch status`` both show it. None of them
reads the clock or writes the database: ``today`` comes from the caller (the calendar day in
the deployment's timezone), and ``monitor/deadlines.py`` stores the answers.

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

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from store.models import MonitorState, Site, SiteStatus
from workflow.workdays import UnknownYear, WorkCalendar

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
