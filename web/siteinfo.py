"""网站信息: a site's domain expiry date (域名到期日期) and the footer numbers it registered
(网站标识码, ICP备案编号, 公安机关备案编号), edited by its unit (its own sites only) and by
operators (any site), checked and stored by ``workflow.siteinfo`` and audited."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField

from badgewatch import localtime
from badgewatch.domains import display_domain
from badgewatch.localtime import cn_date
from badgewatch.vocabulary import EXPIRY_ADVICE, EXPIRY_LABELS, SITE_INFO_LABELS
from store.db import transaction
from store.models import Role, Site, Unit
from web import audit
from web.context import client_address, state
from web.permissions import allow, site_or_404, visible_sites
from workflow import siteinfo
from workflow.deadlines import expiry_status

bp = Blueprint("siteinfo", __name__)


class SiteInfoForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    expires_on = StringField(SITE_INFO_LABELS["expires_on"],
                             render_kw={"placeholder": "YYYY-MM-DD，如 2027-05-06"})
    site_code = StringField(SITE_INFO_LABELS["site_code"],
                            render_kw={"placeholder": "如 1300000065 或 bm06000004"})
    icp = StringField(SITE_INFO_LABELS["icp"], render_kw={"placeholder": "如 冀ICP备13016076号-2"})
    psb = StringField(SITE_INFO_LABELS["psb"],
                      render_kw={"placeholder": "如 京公网安备11010202007232号"})


@dataclass(frozen=True)
class InfoRow:
    """One site as the operator's list and the edit pages show it."""

    id: int
    name: str
    domain: str
    unit: str
    identifier: str
    expires_on: str
    expiry_note: str
    numbers: str


def _row(site: Site, unit: str) -> InfoRow:
    today = localtime.today(state().now(), state().zone)
    status = expiry_status(site.expires_on, today)
    return InfoRow(
        id=site.id, name=site.name, domain=display_domain(site.domain), unit=unit,
        identifier=site.identifier,
        expires_on=cn_date(site.expires_on) if site.expires_on else "未填写",
        expiry_note=EXPIRY_LABELS[status] if status else "",
        numbers=" ".join(n for n in (site.site_code, site.icp, site.psb) if n) or "未登记",
    )


def _edit(site_id: int, template: str, back: str) -> str | Response:
    """The form of one site ``g.user`` may edit: filled with its values, or checked and stored
    (every field at once; errors beside their fields, nothing stored)."""
    st = state()
    form = SiteInfoForm()
    with transaction(st.sessions) as db:
        site = site_or_404(db, g.user, site_id)
        if form.validate_on_submit():
            try:
                changes = siteinfo.update(site, {name: getattr(form, name).data or ""
                                                 for name in siteinfo.FIELDS})
            except siteinfo.SiteInfoInvalid as exc:
                for name, message in exc.errors.items():
                    getattr(form, name).errors.append(message)
            else:
                if changes:
                    audit.record(db, action="site.info", now=st.now(), user=g.user,
                                 address=client_address(), object_type="site", object_id=site.id,
                                 detail={"changes": [c.to_json() for c in changes]})
                    flash(f"已保存“{site.name}”的网站信息："
                          + "、".join(SITE_INFO_LABELS[c.field] for c in changes) + "。")
                else:
                    flash("网站信息没有变化。")
                return redirect(url_for(back, site_id=site.id))
        elif not form.is_submitted():
            form.expires_on.data = site.expires_on.isoformat() if site.expires_on else ""
            form.site_code.data = site.site_code or ""
            form.icp.data = site.icp or ""
            form.psb.data = site.psb or ""
        row = _row(site, site.unit.name)
    return render_template(template, form=form, site=row, advice=EXPIRY_ADVICE)


@bp.route("/unit/sites/<int:site_id>/info", methods=["GET", "POST"])
@allow(Role.UNIT_HANDLER)
def unit_info(site_id: int) -> str | Response:
    """The unit's own site (any other is 404, as if it did not exist)."""
    return _edit(site_id, "siteinfo.html", "siteinfo.unit_info")


@bp.route("/operator/sites")
@allow(Role.OPERATOR)
def operator_sites() -> str:
    with transaction(state().sessions) as db:
        rows = [
            _row(site, unit)
            for site, unit in db.execute(
                visible_sites(g.user).add_columns(Unit.name)
                .join(Unit, Unit.id == Site.unit_id).order_by(Site.domain)
            )
        ]
    return render_template("operator_sites.html", sites=rows)


@bp.route("/operator/sites/<int:site_id>", methods=["GET", "POST"])
@allow(Role.OPERATOR)
def operator_info(site_id: int) -> str | Response:
    return _edit(site_id, "operator_site.html", "siteinfo.operator_info")

