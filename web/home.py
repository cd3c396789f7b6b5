"""首页: each person lands on the home page of their role."""

from __future__ import annotations

from flask import Blueprint, g, redirect, url_for
from werkzeug.wrappers import Response

from store.models import Role
from web.permissions import allow

bp = Blueprint("home", __name__)

ROLE_HOMES = {
    Role.UNIT_HANDLER: "units.index",
    Role.OFFICE_REVIEWER: "offices.index",
    Role.CONAC_REVIEWER: "conac.index",
    Role.OPERATOR: "operators.index",
}


@bp.route("/")
@allow(Role.UNIT_HANDLER, Role.OFFICE_REVIEWER, Role.CONAC_REVIEWER, Role.OPERATOR)
def index() -> Response:
    return redirect(url_for(ROLE_HOMES[g.user.role]))
