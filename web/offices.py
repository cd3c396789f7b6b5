"""The office reviewer's pages: 首页 with 待审核 and 待确认材料 of their office."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from store.db import transaction
from store.models import Application, AppState, Office, Role
from web.context import state
from web.permissions import allow, visible_applications
from web.rows import application_rows

bp = Blueprint("offices", __name__, url_prefix="/office")


@bp.route("/")
@allow(Role.OFFICE_REVIEWER)
def index() -> str:
    st = state()
    with transaction(st.sessions) as db:
        office = db.get(Office, g.user.office_id)
        mine = visible_applications(g.user)
        to_review = list(db.scalars(
            mine.where(Application.state == AppState.SUBMITTED)
            .order_by(Application.submitted_on, Application.id)
        ))
        to_confirm = list(db.scalars(
            mine.where(Application.state == AppState.APPROVED_ONLINE)
            .order_by(Application.materials_due, Application.id)
        ))
        review_rows = application_rows(to_review, st, due="office_review_due")
        confirm_rows = application_rows(to_confirm, st, due="materials_due")
    return render_template(
        "office_home.html",
        office_name=f"{office.code} {office.name}" if office else "",
        to_review=review_rows,
        to_confirm=confirm_rows,
    )
