"""The office reviewer's pages: 首页 with 待审核 and 待确认材料 of their office."""

from __future__ import annotations

from flask import Blueprint, render_template

from store.models import AppState, Role
from web.permissions import allow
from web.rows import listed

bp = Blueprint("offices", __name__, url_prefix="/office")


@bp.route("/")
@allow(Role.OFFICE_REVIEWER)
def index() -> str:
    return render_template(
        "office_home.html",
        to_review=listed(waiting=AppState.SUBMITTED, due="office_review_due"),
        to_confirm=listed(waiting=AppState.APPROVED_ONLINE, due="materials_due"),
    )
