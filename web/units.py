"""The unit handler's pages: 首页 with 网站开办审核/资质复核申请, 我的申请 and 标识管理."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from monitor.notices import STATE_NAMES
from store.db import transaction
from store.models import Application, Role, Site, Unit
from web.context import state
from web.permissions import allow, visible_applications, visible_sites
from web.rows import application_rows

bp = Blueprint("units", __name__, url_prefix="/unit")


@bp.route("/")
@allow(Role.UNIT_HANDLER)
def index() -> str:
    st = state()
    with transaction(st.sessions) as db:
        unit = db.get(Unit, g.user.unit_id)
        applications = list(db.scalars(
            visible_applications(g.user).order_by(Application.created_at.desc(), Application.id)
        ))
        rows = application_rows(applications, st)
        sites = list(db.scalars(visible_sites(g.user).order_by(Site.name, Site.id)))
    return render_template(
        "unit_home.html",
        unit_name=unit.name if unit else "",
        applications=rows,
        sites=sites,
        state_names=STATE_NAMES,
    )
