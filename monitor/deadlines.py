"""A site's monitor state stored: ``apply_check`` and ``reevaluate_all`` apply the deadline
rules (``workflow/deadlines.py``) to the sites and record each change with its time, so
reports can show the history. Neither reads the clock: ``now`` and ``today`` come from the
caller (``today`` is the calendar day in the deployment's timezone).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Site, SiteCheck, SiteStateChange, SiteStatus
from store.records import reasons_of
from workflow.deadlines import Evaluation, evaluate_site
from workflow.workdays import WorkCalendar

logger = logging.getLogger(__name__)


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
