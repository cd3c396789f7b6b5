"""标识管理: a unit's issued badge code to copy before ``</body>``, its placement deadline with
the working days left, and the site's compliance from the last check, read as the office report
reads it (``reports.data``), with the evidence screenshots behind a permission check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import Blueprint, abort, g, render_template, send_file
from sqlalchemy import select
from werkzeug.wrappers import Response

from badgewatch import localtime
from badgewatch.domains import display_domain
from badgewatch.localtime import cn_date
from badgewatch.vocabulary import EXPIRY_LABELS
from reports.data import SiteDetail, SiteRow, failing_rows, site_detail, site_row
from store.db import transaction
from store.models import MonitorState, PageRender, RedPage, Role
from web.context import state
from web.permissions import allow, render_or_404, site_or_404
from web.rows import days_left
from workflow.deadlines import expiry_status
from workflow.issuance import issued_snippet, make_code


@dataclass(frozen=True)
class Screenshot:
    """One evidence screenshot of the last check, served by ``evidence``."""

    render_id: int
    url: str
    viewport: str


@dataclass(frozen=True)
class BadgePage:
    """What 标识管理 shows of one site."""

    site_id: int
    name: str
    domain: str
    identifier: str
    snippet: str | None  # None for a site imported without its certificate
    placement_due: str
    deadline_note: str
    expires_on: str  # the domain's expiry date, or 未填写
    expiry_note: str  # 域名即将到期 / 域名已过期, or empty
    rereviewed_on: str | None  # the last approved 已开办网站复核, if any
    checked_at: str | None  # Beijing time
    detail: SiteDetail | None  # None until the site's office report lists it
    screenshots: list[Screenshot]
    red_page: bool = False  # a 网络红页: the code goes into its 页脚 (红页管理)


bp = Blueprint("badges", __name__, url_prefix="/unit/sites")


def _deadline_note(row: SiteRow | None, due: date | None, today: date) -> str:
    """The report's words for a failing site; before any verdict, the working days to the
    placement deadline."""
    if row is not None and (row.failing or row.state is MonitorState.COMPLIANT):
        return row.deadline_note if row.failing else "已合规"
    left = days_left(state(), today, due)
    if left is None:
        return "—"
    return f"剩余 {left} 个工作日" if left >= 0 else f"已逾期 {-left} 个工作日"


@bp.route("/<int:site_id>")
@allow(Role.UNIT_HANDLER)
def badge(site_id: int) -> str:
    st = state()
    today = localtime.today(st.now(), st.zone)
    with transaction(st.sessions) as db:
        site = site_or_404(db, g.user, site_id)
        snippet = None
        if site.certificate:
            snippet = issued_snippet(
                st.config.badge, make_code(st.config.badge, site.identifier, site.certificate)
            )
        # The site's row exactly as its office's report builds it (same deadline and reasons),
        # for this site alone; the report lists monitored sites only.
        row = (site_row(db, site, today=today, calendar=st.calendar)
               if site.monitored else None)
        detail = None
        if row is not None:
            detail = site_detail(db, row, failing_rows(db, row),
                                 data_dir=Path(st.config.paths.data_dir),
                                 max_pages=st.config.reports.max_pages_listed)
        screenshots = []
        if site.last_check_id is not None:
            for render in db.scalars(
                select(PageRender)
                .where(PageRender.check_id == site.last_check_id,
                       PageRender.screenshot.is_not(None))
                .order_by(PageRender.id)
            ):
                screenshots.append(Screenshot(render.id, render.url, render.viewport))
        page = BadgePage(
            site_id=site.id,
            name=site.name,
            domain=display_domain(site.domain),
            identifier=site.identifier,
            snippet=snippet,
            placement_due=site.placement_due.isoformat() if site.placement_due else "—",
            deadline_note=_deadline_note(row, site.placement_due, today),
            expires_on=cn_date(site.expires_on) if site.expires_on else "未填写",
            expiry_note=EXPIRY_LABELS.get(expiry_status(site.expires_on, today) or "", ""),
            rereviewed_on=site.rereviewed_on.isoformat() if site.rereviewed_on else None,
            checked_at=st.local_text(site.checked_at) if site.checked_at else None,
            detail=detail,
            screenshots=screenshots,
            red_page=db.scalar(select(RedPage.id).where(RedPage.site_id == site.id)) is not None,
        )
    return render_template("badge.html", page=page)


@bp.route("/<int:site_id>/evidence/<int:render_id>.png")
@allow(Role.UNIT_HANDLER)
def evidence(site_id: int, render_id: int) -> Response:
    """A screenshot of the site's last check: only the unit's own site, only its last check."""
    st = state()
    with transaction(st.sessions) as db:
        relative = render_or_404(db, g.user, site_id, render_id).screenshot
    assert relative is not None  # render_or_404 finds only rows with a screenshot
    data_dir = Path(st.config.paths.data_dir).resolve()
    path = (data_dir / relative).resolve()
    if not path.is_relative_to(data_dir) or not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/png", max_age=0)
