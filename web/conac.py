"""The CONAC reviewer's pages: 首页 with 待复审."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from store.db import transaction
from store.models import Application, AppState, Role
from web.context import state
from web.permissions import allow, visible_applications
from web.rows import application_rows

bp = Blueprint("conac", __name__, url_prefix="/conac")


@bp.route("/")
@allow(Role.CONAC_REVIEWER)
def index() -> str:
    st = state()
    with transaction(st.sessions) as db:
        waiting = list(db.scalars(
            visible_applications(g.user)
            .where(Application.state == AppState.OFFICE_APPROVED)
            .order_by(Application.updated_at, Application.id)
        ))
        rows = application_rows(waiting, st)
    return render_template("conac_home.html", to_review=rows)
