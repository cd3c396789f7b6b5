"""The CONAC reviewer's pages: 首页 with 待复审, and the decision on each
(审核通过 / 审核不通过)."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from store.models import AppState, Role
from web.permissions import allow
from web.reviews import decide
from web.rows import listed

bp = Blueprint("conac", __name__, url_prefix="/conac")


@bp.route("/")
@allow(Role.CONAC_REVIEWER)
def index() -> str:
    return render_template("conac_home.html", to_review=listed(waiting=AppState.OFFICE_APPROVED))


@bp.route("/applications/<int:application_id>/review", methods=["POST"])
@allow(Role.CONAC_REVIEWER)
def review(application_id: int) -> Response | tuple[str, int]:
    return decide(application_id, "review")
