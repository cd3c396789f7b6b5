"""One application as the unit, its office and CONAC read it: every field of the form, its
history and, for a reviewer whose turn it is, the decision to take."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template

from badgewatch.domains import display_domain
from badgewatch.vocabulary import APP_STATE_LABELS, KIND_LABELS
from store.db import transaction
from store.models import ApplicationKind, Role
from web.applyform import PHONES
from web.context import state
from web.decisions import DecisionForm, decision_for
from web.permissions import allow, application_or_404
from web.rows import application_rows
from workflow.fields import display_phone
from workflow.form import LABELS, RED_PAGE, SECTIONS
from workflow.machine import HISTORY_LABELS

bp = Blueprint("applications", __name__, url_prefix="/applications")

_DOMAINS = frozenset({"site.domain", "site.english_domain"})


@bp.route("/<int:application_id>")
@allow(Role.UNIT_HANDLER, Role.OFFICE_REVIEWER, Role.CONAC_REVIEWER)
def show(application_id: int) -> str:
    return detail_page(application_id)


def detail_page(
    application_id: int, *, decision: DecisionForm | None = None, problem: str | None = None
) -> str:
    """The application's page; ``decision`` is a posted decision form shown back with its
    errors, ``problem`` why the workflow refused it."""
    st = state()
    with transaction(st.sessions) as db:
        application = application_or_404(db, g.user, application_id)
        (row,) = application_rows([application], st)
        history = [
            {
                "at": st.local_text(step.at),
                "event": HISTORY_LABELS.get(step.event, step.event),
                "state": APP_STATE_LABELS[step.to_state],
                "reason": step.reason or "",
            }
            for step in application.transitions
        ]
        fields = form_fields(application.form, office=f"{application.office.code} "
                             f"{application.office.name}")
        offered = decision_for(g.user, application.state)
    return render_template(
        "application.html", application=row, history=history, fields=fields,
        offered=offered, decision=decision or (DecisionForm() if offered else None),
        problem=problem,
    )


def form_fields(form: dict[str, Any], *, office: str) -> list[tuple[str, str]]:
    """Every field of the stored form with its label on the paper form, in the form's order."""
    kind = KIND_LABELS[ApplicationKind(form["kind"])]
    rows = [(LABELS["kind"], kind), (LABELS["office"], office)]
    for section, keys in SECTIONS.items():
        values = form.get(section) or {}
        for key in keys:
            path = f"{section}.{key}"
            value = values.get(key)
            text = "" if value is None else str(value)
            if path in _DOMAINS and text:
                text = display_domain(text)
            elif path in PHONES and text:
                text = display_phone(text)  # as typed and printed: 0571 8765 4321
            rows.append((LABELS[path], text or "—"))
    if (form.get("site") or {}).get(RED_PAGE) is True:
        rows.append((LABELS[f"site.{RED_PAGE}"], "是"))
    return rows
