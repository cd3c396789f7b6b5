"""The CONAC reviewer's pages: 首页 with 待复审."""

from __future__ import annotations

from flask import Blueprint, render_template

from store.models import AppState, Role
from web.permissions import allow
from web.rows import listed

bp = Blueprint("conac", __name__, url_prefix="/conac")


@bp.route("/")
@allow(Role.CONAC_REVIEWER)
def index() -> str:
    return render_template("conac_home.html", to_review=listed(waiting=AppState.OFFICE_APPROVED))
