"""合规情况: an office's compliance live from the database, with the same content as its static
report (``reports.data`` reads it, ``reports.build`` says what a page shows, the report's own
partials show it), each site's page with 立即复查, and the exports of the office's subtree.

Office reviewers read their office's subtree; CONAC every office. Filters are GET parameters
(``state``, ``reason``, ``level``), so the pages need no script.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from jinja2 import BaseLoader, ChoiceLoader, PackageLoader, PrefixLoader
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from badgewatch import localtime
from badgewatch.localtime import cn_date, cn_time
from badgewatch.vocabulary import LEVEL_LABELS, STATE_LABELS, reason_text
from reports.build import (
    PAGES_HEADER,
    office_json,
    office_page,
    page_rows,
    site_csv,
    site_page,
)
from reports.data import OfficeData, SiteRow, collect, failing_rows, site_row
from store.db import transaction
from store.models import MonitorState, Office, OfficeLevel, Role, Site, SiteStateChange
from web import rechecks
from web.context import WebState, state
from web.permissions import allow, office_or_404, site_or_404, visible_offices


class _Blueprint(Blueprint):
    """Also finds the reports' partials: the web pages name them ``reports/_site_table.html``
    and so on; the partials' own imports (``_tables.html``) are found by their plain names,
    after the web application's own templates."""

    @cached_property
    def jinja_loader(self) -> BaseLoader | None:
        reports = PackageLoader("reports", "templates")
        return ChoiceLoader([PrefixLoader({"reports": reports}), reports])


bp = _Blueprint("compliance", __name__, url_prefix="/compliance")
READERS = (Role.OFFICE_REVIEWER, Role.CONAC_REVIEWER)


@bp.app_template_filter("localtime")
def _localtime(moment: datetime) -> str:
    return cn_time(moment, state().zone)


@bp.app_template_filter("localdate")
def _localdate(moment: datetime) -> str:
    return cn_date(localtime.today(moment, state().zone))


@bp.app_template_filter("cndate")
def _cndate(day: date) -> str:
    return cn_date(day)


class RecheckForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    """立即复查: nothing to fill in but the CSRF token."""


@dataclass(frozen=True)
class Filters:
    """The site table's filters, from the query string; unknown values are ignored."""

    state: MonitorState | None
    reason: str | None
    level: OfficeLevel | None

    @classmethod
    def from_args(cls, args: dict[str, str]) -> Filters:
        states = {s.value: s for s in MonitorState}
        levels = {lv.value: lv for lv in OfficeLevel}
        return cls(
            state=states.get(args.get("state", "")),
            reason=args.get("reason") or None,
            level=levels.get(args.get("level", "")),
        )

    def keep(self, row: SiteRow) -> bool:
        if self.state is not None and row.state is not self.state:
            return False
        return self.reason is None or any(r.code == self.reason for r in row.reasons)


def _today(st: WebState) -> date:
    return localtime.today(st.now(), st.zone)


# Reading an office tree of a thousand sites with its trend takes about half a second, and
# every reviewer of a province asks for the same one: each worker keeps the last trees it read,
# each under the version of the data it was read from (the sites' last complete checks and
# states, their last change of any kind, the state changes, the sites and offices there are,
# and today), so a finished check, an import's rename or a new expiry date shows at once.
# ``CACHE_SECONDS`` bounds what no version column sees (an office or unit renamed).
CACHE_SECONDS = 300.0
CACHE_SIZE = 32
_trees_lock = threading.Lock()


def _trees() -> OrderedDict[tuple[Any, ...], tuple[float, OfficeData]]:
    """This application's trees (each app has its own database)."""
    trees: OrderedDict[tuple[Any, ...], tuple[float, OfficeData]]
    trees = current_app.extensions.setdefault("badgewatch.compliance", OrderedDict())
    return trees


def _data_version(db: Session) -> tuple[Any, ...]:
    sites = db.execute(
        select(func.max(Site.checked_at), func.max(Site.state_since), func.count(Site.id),
               func.max(Site.id), func.max(Site.updated_at))
    ).one()
    changes = db.scalar(select(func.max(SiteStateChange.id)))
    offices = db.scalar(select(func.max(Office.id)))
    return (*sites, changes, offices)


def _tree(db: Session, code: str) -> OfficeData:
    """The office ``code`` with its subtree, as the report reads it; 404 outside one's reach."""
    st = state()
    office_or_404(db, g.user, code)
    today = _today(st)
    key = (code, today, *_data_version(db))
    trees = _trees()
    with _trees_lock:
        cached = trees.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            trees.move_to_end(key)
            return cached[1]
    (node,) = collect(
        db, code=code, today=today, calendar=st.calendar, zone=st.zone,
        trend_days=st.config.reports.trend_days,
    )
    for row in node.all_sites():
        row.file_name = url_for("compliance.site", site_id=row.id)
    with _trees_lock:
        trees[key] = (time.monotonic(), node)
        while len(trees) > CACHE_SIZE:
            trees.popitem(last=False)
    return node


def _office_href(code: str) -> str:
    return url_for("compliance.office", code=code)


@bp.route("/")
@allow(*READERS)
def index() -> str | BaseResponse:
    """An office reviewer goes to their office; CONAC chooses among the top offices."""
    st = state()
    with transaction(st.sessions) as db:
        offices = list(db.scalars(visible_offices(g.user).order_by(Office.code)))
        ids = {office.id for office in offices}
        tops = [o for o in offices if o.parent_id not in ids]
        if g.user.role is Role.OFFICE_REVIEWER and len(tops) == 1:
            return redirect(_office_href(tops[0].code))
        # The trees of the offices one may read, never all of them filtered afterwards.
        roots = [
            root for top in tops for root in collect(
                db, code=top.code, today=_today(st), calendar=st.calendar, zone=st.zone,
                trend_days=st.config.reports.trend_days,
            )
        ]
        rows = [
            {"name": r.office.name, "href": _office_href(r.office.code),
             "total": r.total(tree=True), "rate": r.compliance(tree=True)}
            for r in roots
        ]
    return render_template("compliance_index.html", roots=rows)


@bp.route("/offices/<code>")
@allow(*READERS)
def office(code: str) -> str:
    filters = Filters.from_args(request.args.to_dict())
    st = state()
    with transaction(st.sessions) as db:
        node = _tree(db, code)
        parent = None
        if node.office.parent_id is not None:  # linked only when this person may read it
            parent = db.scalar(
                visible_offices(g.user).where(Office.id == node.office.parent_id)
            )
        context = office_page(
            node, office_href=_office_href, parent=parent,
            generated_at=cn_time(st.now(), st.zone), trend_days=st.config.reports.trend_days,
        ).context()
    if filters.level is not None:
        levels = {o.office.code: o.office.level for o in (node, *node.descendants())}
        listed: Iterable[SiteRow] = (
            r for r in node.all_sites() if levels[r.office_code] is filters.level
        )
    else:
        listed = node.sites
    reasons = sorted({r.code for row in node.all_sites() for r in row.reasons})
    context.update(
        sites=[row for row in listed if filters.keep(row)],
        filters=filters,
        state_options=[(s.value, STATE_LABELS[s]) for s in MonitorState],
        reason_options=[(code, reason_text(code)) for code in reasons],
        level_options=[(lv.value, LEVEL_LABELS[lv]) for lv in OfficeLevel],
        exports={
            "csv": url_for("compliance.export_sites", code=code),
            "pages": url_for("compliance.export_pages", code=code),
            "json": url_for("compliance.export_json", code=code),
        },
    )
    return render_template("compliance_office.html", **context)


@bp.route("/sites/<int:site_id>")
@allow(*READERS)
def site(site_id: int) -> str:
    st = state()
    with transaction(st.sessions) as db:
        found = site_or_404(db, g.user, site_id)
        # Its recheck first: the row is built from the site as read after the job.
        progress = rechecks.progress(
            db, found, now=st.now(), today=_today(st), calendar=st.calendar
        )
        row = site_row(db, found, today=_today(st), calendar=st.calendar)
        office = found.office
        # A site one may read belongs to an office one may read (web.permissions).
        context = site_page(
            db, row, failing_rows(db, row), config=st.config,
            office_href=_office_href(office.code), office_name=office.name,
            generated_at=cn_time(st.now(), st.zone),
        ).context()
    return render_template(
        "compliance_site.html", progress=progress, form=RecheckForm(), **context
    )


@bp.route("/sites/<int:site_id>/recheck", methods=["POST"])
@allow(*READERS)
def recheck(site_id: int) -> BaseResponse:
    st = state()
    with transaction(st.sessions) as db:
        site_or_404(db, g.user, site_id)
    refused = rechecks.request(site_id)
    if refused is not None:
        flash(refused)
    return redirect(url_for("compliance.site", site_id=site_id))


def _download(body: bytes, name: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/offices/<code>/sites.csv")
@allow(*READERS)
def export_sites(code: str) -> Response:
    with transaction(state().sessions) as db:
        node = _tree(db, code)
    out = io.StringIO()
    site_csv(out, node.all_sites(), state().zone)
    return _download(out.getvalue().encode("utf-8-sig"), f"office-{code}.csv", "text/csv")


@bp.route("/offices/<code>/pages.csv")
@allow(*READERS)
def export_pages(code: str) -> Response:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    with transaction(state().sessions) as db:
        node = _tree(db, code)
        for row in node.all_sites():
            writer.writerows(page_rows(row, failing_rows(db, row)))
    body = (PAGES_HEADER + out.getvalue()).encode("utf-8-sig")
    return _download(body, f"office-{code}-pages.csv", "text/csv")


@bp.route("/offices/<code>/data.json")
@allow(*READERS)
def export_json(code: str) -> Response:
    st = state()
    with transaction(st.sessions) as db:
        data: dict[str, Any] = office_json(_tree(db, code), cn_time(st.now(), st.zone))
    body = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    return _download(body, f"office-{code}.json", "application/json")
