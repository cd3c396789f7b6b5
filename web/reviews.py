"""Posting a reviewer's decision: one event of the workflow (``workflow.service``: its rules,
its errors, none re-written), audited with who, when and from where."""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from werkzeug.wrappers import Response

from badgewatch.vocabulary import APP_STATE_LABELS
from store.db import transaction
from web import audit
from web.applications import detail_page
from web.context import client_address, state
from web.decisions import DecisionForm, Step, actor_of
from web.delivery import deliver_queued
from web.permissions import application_or_404
from workflow.errors import ReasonRequired, WorkflowError
from workflow.machine import TransitionNotAllowed
from workflow.service import Workflow, changing


def decide(application_id: int, step: Step) -> Response | tuple[str, int]:
    """Apply the decision posted for ``application_id`` and go back to the home page's lists;
    a missing reason or a decision the application's state no longer allows is shown on the
    application's page, nothing saved."""
    form = DecisionForm()
    st = state()
    with transaction(st.sessions) as db:  # outside one's reach: 404 whatever was posted
        application_or_404(db, g.user, application_id)
    approve = request.form.get("decision") == "approve"
    if request.form.get("decision") not in ("approve", "reject"):
        abort(400)
    # A form with errors is shown again with them beside their fields, as every form here.
    if not form.validate_on_submit():
        return detail_page(application_id, decision=form), 200
    now = st.now()
    workflow = Workflow(st.config, st.calendar)
    try:
        with changing(st.sessions, application_id) as db:
            application_or_404(db, g.user, application_id)
            actor = actor_of(db, g.user)
            if step == "materials":
                application = workflow.materials(
                    db, application_id, actor, now, confirm=approve, reason=form.reason.data
                )
            else:
                application = workflow.review(
                    db, application_id, actor, now, approve=approve, reason=form.reason.data
                )
            outcome = "approve" if approve else "reject"
            audit.record(
                db, action=f"application.{step}.{outcome}", now=now, user=g.user,
                address=client_address(), object_type="application", object_id=application_id,
                detail={"to": application.state.value, "reason": form.reason.data or None},
            )
            site_name, to_state = application.site_name, application.state
            serial = application.serial
    except ReasonRequired as exc:
        form.reason.errors = [str(exc)]
        return detail_page(application_id, decision=form), 200
    except (WorkflowError, TransitionNotAllowed) as exc:
        problem = str(exc)
        return detail_page(application_id, decision=form, problem=problem), 409
    flash(f"已办理：{site_name}（申请序号 {serial}）现为“{APP_STATE_LABELS[to_state]}”。")
    delivered = deliver_queued(db)
    if delivered.retrying or delivered.failed:
        flash("通知邮件或短信暂时未能发出，系统将稍后自动重试。")
    return redirect(url_for("home.index"))
