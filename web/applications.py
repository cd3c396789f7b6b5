"""One application as the unit, its office and CONAC read it: the form's key facts and history."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from badgewatch.vocabulary import APP_STATE_LABELS
from store.db import transaction
from store.models import Role
from web.context import state
from web.permissions import allow, application_or_404
from web.rows import application_rows
from workflow.machine import EVENT_LABELS

bp = Blueprint("applications", __name__, url_prefix="/applications")

_EVENTS = {event.value: label for event, label in EVENT_LABELS.items()}


@bp.route("/<int:application_id>")
@allow(Role.UNIT_HANDLER, Role.OFFICE_REVIEWER, Role.CONAC_REVIEWER)
def show(application_id: int) -> str:
    st = state()
    with transaction(st.sessions) as db:
        application = application_or_404(db, g.user, application_id)
        (row,) = application_rows([application], st)
        history = [
            {
                "at": st.local_text(step.at),
                "event": _EVENTS.get(step.event, step.event),
                "state": APP_STATE_LABELS[step.to_state],
                "reason": step.reason or "",
            }
            for step in application.transitions
        ]
    return render_template("application.html", application=row, history=history)
