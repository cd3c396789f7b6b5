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
- An unreachable site whose name stopped resolving (the DNS said it does not exist, or has no
  address) after the day its domain expires (``sites.expires_on``) is ``domain_expired``; on or
  before that day, or with no expiry date known, it stays ``unreachable``.

Domain expiry rules: the unit is reminded 30 and 7 days before the expiry date and on the day
(``expiry_reminder``: the most urgent threshold reached, so a late pass sends one, not a
burst); a domain is ``expiring`` within 30 days and ``expired`` from the day after its date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

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


EXPIRY_REMINDER_DAYS = (30, 7, 0)
"""Days before the domain's expiry date the unit is reminded (0: on the day itself)."""

EXPIRY_SOON_DAYS = 30
"""A domain expiring within this many days is listed as 域名即将到期."""

GONE_REASONS = frozenset({"nxdomain", "no_a"})
"""The DNS failures that say the name itself is gone (a timeout or SERVFAIL says nothing)."""

ExpiryStatus = Literal["expiring", "expired"]


def expiry_status(expires_on: date | None, today: date) -> ExpiryStatus | None:
    """``expired`` after the expiry date, ``expiring`` within 30 days of it (the day included),
    None otherwise or with no date."""
    if expires_on is None:
        return None
    if today > expires_on:
        return "expired"
    if (expires_on - today).days <= EXPIRY_SOON_DAYS:
        return "expiring"
    return None


def expiry_reminder(expires_on: date | None, today: date) -> int | None:
    """The reminder due today, as days before the expiry date (30, 7 or 0): the most urgent
    threshold reached, so a pass that runs late sends that one alone; None before the first
    threshold and after the expiry date (the state and the digest say it then)."""
    if expires_on is None:
        return None
    left = (expires_on - today).days
    if left < 0:
        return None
    reached = [days for days in EXPIRY_REMINDER_DAYS if left <= days]
    return min(reached) if reached else None


def name_gone(dns: Mapping[str, Any] | None) -> bool:
    """Whether a check's DNS record (``site_checks.dns``) says the name no longer resolves."""
    if not dns:
        return False
    return dns.get("outcome") == "unresolvable" and dns.get("reason") in GONE_REASONS


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
    expires_on: date | None = None,
    gone: bool = False,
) -> Evaluation:
    """The monitor state for a crawl verdict on ``today``; ``gone``: the check found the name
    no longer resolves. Raises ``UnknownYear`` when the calendar cannot count the working days
    (a statutory deadline is never guessed)."""
    if (crawl_status is SiteStatus.UNREACHABLE and gone
            and expiry_status(expires_on, today) == "expired"):
        return Evaluation(MonitorState.DOMAIN_EXPIRED)
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
    """``evaluate`` for a stored site: its verdict, deadline, history, and for an unreachable
    site past its expiry date what its last check's DNS said (read only then)."""
    gone = (
        site.status is SiteStatus.UNREACHABLE
        and expiry_status(site.expires_on, today) == "expired"
        and site.last_check is not None
        and name_gone(site.last_check.dns)
    )
    return evaluate(
        site.status,
        placement_due=site.placement_due,
        today=today,
        ever_compliant=site.ever_compliant,
        calendar=calendar,
        expires_on=site.expires_on,
        gone=gone,
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
