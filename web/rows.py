"""Application rows as the pages show them: Chinese labels, Beijing dates, working days left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import g

from badgewatch import localtime
from badgewatch.domains import display_domain
from badgewatch.vocabulary import APP_STATE_LABELS, KIND_LABELS, RED_PAGE_NAME
from store.db import transaction
from store.models import Application, AppState
from web.context import WebState, state
from web.permissions import visible_applications
from workflow.form import RED_PAGE
from workflow.workdays import CalendarError


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    serial: str | None  # 申请序号; None for a draft never submitted
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
                serial=application.serial,
                site_name=application.site_name,
                domain=display_domain(application.domain),
                unit=application.unit.name,
                state=APP_STATE_LABELS[application.state],
                kind=_kind(application),
                applied_on=(
                    application.submitted_on.isoformat()
                    if application.submitted_on
                    else localtime.today(application.created_at, st.zone).isoformat()
                ),
                due=deadline,
                working_days_left=days_left(st, today, deadline),
            )
        )
    return rows


def _kind(application: Application) -> str:
    """申请类型, with the identifier of the site a re-review re-reviews, and 网络红页 for a
    red page's."""
    notes = []
    if (application.form.get("site") or {}).get(RED_PAGE) is True:
        notes.append(RED_PAGE_NAME)
    site = application.rereview_site
    if site is not None:
        notes.append(site.identifier)
    label = KIND_LABELS[application.kind]
    return f"{label}（{'，'.join(notes)}）" if notes else label


def days_left(st: WebState, today: date, deadline: date | None) -> int | None:
    """Working days from today to the deadline; negative once it has passed; None with no
    deadline or in a year the calendar does not know."""
    if deadline is None:
        return None
    try:
        return st.calendar.workdays_between(today, deadline)
    except CalendarError:
        return None


def listed(
    *,
    waiting: AppState | frozenset[AppState] | None = None,
    due: str | None = None,
    newest_first: bool = False,
) -> list[ApplicationRow]:
    """The applications the person of this request may see (those ``waiting`` in one state or
    one of a set), by the ``due`` deadline (else by their last change), oldest first unless
    ``newest_first``."""
    st = state()
    query = visible_applications(g.user)
    if isinstance(waiting, AppState):
        query = query.where(Application.state == waiting)
    elif waiting is not None:
        query = query.where(Application.state.in_(waiting))
    column = getattr(Application, due) if due else Application.updated_at
    query = query.order_by(column.desc() if newest_first else column, Application.id)
    with transaction(st.sessions) as db:
        return application_rows(list(db.scalars(query)), st, due=due)
