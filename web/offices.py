"""The office reviewer's pages: 首页 with 待审核, 待确认材料 and 已退回 (waiting for the unit to
resubmit) of their office, and the decisions on them (审核通过 / 审核不通过, 确认材料 /
材料不通过)."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from store.models import AppState, Role
from web.permissions import allow
from web.reviews import decide
from web.rows import listed
from workflow.machine import REJECTED

bp = Blueprint("offices", __name__, url_prefix="/office")


@bp.route("/")
@allow(Role.OFFICE_REVIEWER)
def index() -> str:
    return render_template(
        "office_home.html",
        to_review=listed(waiting=AppState.SUBMITTED, due="office_review_due"),
        to_confirm=listed(waiting=AppState.APPROVED_ONLINE, due="materials_due"),
        returned=listed(waiting=REJECTED, newest_first=True),
    )


@bp.route("/applications/<int:application_id>/review", methods=["POST"])
@allow(Role.OFFICE_REVIEWER)
def review(application_id: int) -> Response | tuple[str, int]:
    return decide(application_id, "review")


@bp.route("/applications/<int:application_id>/materials", methods=["POST"])
@allow(Role.OFFICE_REVIEWER)
def materials(application_id: int) -> Response | tuple[str, int]:
    return decide(application_id, "materials")
