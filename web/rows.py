"""Application rows as the pages show them: Chinese labels, Beijing dates, working days left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from badgewatch import localtime
from store.models import Application
from web.context import WebState
from workflow.form import KIND_LABELS
from workflow.machine import STATE_LABELS
from workflow.workdays import CalendarError


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    site_name: str
    domain: str
    unit: str
    state: str
    kind: str
    applied_on: str
    due: date | None
    working_days_left: int | None


def application_rows(
    applications: list[Application], st: WebState, *, due: str | None = None
) -> list[ApplicationRow]:
    """``due`` names the deadline column shown (``office_review_due`` or ``materials_due``)."""
    today = localtime.today(st.now(), st.zone)
    rows = []
    for application in applications:
        deadline: date | None = getattr(application, due) if due else None
        rows.append(
            ApplicationRow(
                id=application.id,
                site_name=application.site_name,
                domain=application.domain,
                unit=application.unit.name,
                state=STATE_LABELS[application.state],
                kind=KIND_LABELS[application.kind],
                applied_on=(
                    application.submitted_on.isoformat()
                    if application.submitted_on
                    else localtime.today(application.created_at, st.zone).isoformat()
                ),
                due=deadline,
                working_days_left=_days_left(st, today, deadline),
            )
        )
    return rows


def _days_left(st: WebState, today: date, deadline: date | None) -> int | None:
    """Working days from today to the deadline; negative once it has passed."""
    if deadline is None:
        return None
    try:
        return st.calendar.workdays_between(today, deadline)
    except CalendarError:
        return None
