"""The unit handler's pages: 首页 with 网站开办审核/资质复核申请, 我的申请 and 标识管理."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from badgewatch.vocabulary import STATE_LABELS
from store.db import transaction
from store.models import Role, Site
from web.context import state
from web.permissions import allow, visible_sites
from web.rows import listed

bp = Blueprint("units", __name__, url_prefix="/unit")


@bp.route("/")
@allow(Role.UNIT_HANDLER)
def index() -> str:
    with transaction(state().sessions) as db:
        sites = list(db.scalars(visible_sites(g.user).order_by(Site.name, Site.id)))
    return render_template(
        "unit_home.html",
        applications=listed(newest_first=True),
        sites=sites,
        state_names=STATE_LABELS,
    )
