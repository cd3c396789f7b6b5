"""红页管理: a unit edits and publishes its 网络红页 (seed step 五); and the red pages themselves,
served at their own ``.政务`` domains by this same application.

A request whose Host is a red-page domain is answered by ``serve`` before anything else (no
session, no login): its published page at ``/``, 404 anywhere else and before publication.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask import Response as FlaskResponse
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import Field, StringField, TextAreaField

from badgewatch import domains
from badgewatch.domains import FieldInvalid
from badgewatch.vocabulary import RED_PAGE_LABELS, RED_PAGE_STATES
from store.db import transaction
from store.models import RedPage, Role
from web import audit
from web.applyform import add_error
from web.context import WebState, client_address, state
from web.permissions import allow, site_or_404
from workflow import redpages
from workflow.form import FormInvalid
from workflow.issuance import issued_snippet

bp = Blueprint("redpages", __name__, url_prefix="/unit/redpages")

_GOV_SUFFIXES = (".xn--zfr164b", ".政务")


def _notice_fields(cls: type) -> type:
    for n in range(1, redpages.MAX_NOTICES + 1):
        label = {part: RED_PAGE_LABELS[f"notice_{part}"].format(n=n)
                 for part in ("title", "on", "text")}
        setattr(cls, f"notice_{n}_title", StringField(label["title"]))
        setattr(cls, f"notice_{n}_on", StringField(label["on"], render_kw={
            "placeholder": "2026-12-01"}))
        setattr(cls, f"notice_{n}_text", TextAreaField(label["text"]))
    return cls


@_notice_fields
class RedPageForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    """Every input of the editor; ``workflow.redpages.parse_content`` validates them."""

    profile = TextAreaField(RED_PAGE_LABELS["profile"])
    functions = TextAreaField(RED_PAGE_LABELS["functions"])
    address = StringField(RED_PAGE_LABELS["address"])
    contact = StringField(RED_PAGE_LABELS["contact"])
    footer = TextAreaField(RED_PAGE_LABELS["footer"])

    def data_for_workflow(self) -> dict[str, Any]:
        return {
            **{key: self[key].data or "" for key in (*redpages.TEXT_KEYS, "footer")},
            "notices": [
                {part: self[f"notice_{n}_{part}"].data or "" for part in ("title", "on", "text")}
                for n in range(1, redpages.MAX_NOTICES + 1)
            ],
        }

    def fill(self, content: redpages.RedPageContent) -> None:
        for key in (*redpages.TEXT_KEYS, "footer"):
            self[key].data = getattr(content, key)
        for n, notice in enumerate(content.notices, start=1):
            self[f"notice_{n}_title"].data = notice.title
            self[f"notice_{n}_on"].data = notice.on.isoformat()
            self[f"notice_{n}_text"].data = notice.text

    def field_of(self, path: str) -> Field | None:
        """The input an error of ``parse_content`` names (``notice.2.title`` → notice_2_title)."""
        found: Field | None = self._fields.get(path.replace(".", "_"))
        return found


@dataclass(frozen=True)
class EditorView:
    """What 红页管理 shows above the form."""

    name: str
    domain: str  # as people read it
    state: str  # 未发布, 已发布, …
    snippet: str  # the code to paste into the footer
    published_at: str | None


def _state_of(page: RedPage) -> str:
    if page.published is None:
        return RED_PAGE_STATES["unpublished"]
    if page.published != page.draft:
        return RED_PAGE_STATES["changed"]
    return RED_PAGE_STATES["published"]


@bp.route("/<int:site_id>", methods=["GET", "POST"])
@allow(Role.UNIT_HANDLER)
def edit(site_id: int) -> str | Response:
    """红页管理: 保存草稿 keeps the draft, 发布 also makes it the page served."""
    st = state()
    form = RedPageForm()
    problems: list[str] = []
    with transaction(st.sessions) as db:
        site = site_or_404(db, g.user, site_id)
        page = db.scalar(select(RedPage).where(RedPage.site_id == site.id))
        if page is None:
            abort(404)
        code = redpages.site_code(site, st.config.badge)
        if request.method == "GET":
            form.fill(redpages.RedPageContent.from_json(page.draft))
        elif form.validate_on_submit():
            publish = request.form.get("action") == "publish"
            try:
                content = redpages.parse_content(form.data_for_workflow(), st.config.badge, code)
            except FormInvalid as exc:
                for error in exc.errors:
                    field = form.field_of(error.field)
                    if field is None:
                        problems.append(str(error))
                    else:
                        add_error(field, error.message)
            else:
                now = st.now()
                redpages.save(page, content, now, publish=publish)
                audit.record(db, action="redpage.publish" if publish else "redpage.save",
                             now=now, user=g.user, address=client_address(),
                             object_type="site", object_id=site.id)
                flash("网络红页已发布。" if publish else "网络红页草稿已保存，发布后生效。")
                return redirect(url_for("redpages.edit", site_id=site.id))
        view = EditorView(
            name=site.name,
            domain=domains.display_domain(site.domain),
            state=_state_of(page),
            snippet=issued_snippet(st.config.badge, code),
            published_at=st.local_text(page.published_at) if page.published_at else None,
        )
    return render_template("redpage_edit.html", form=form, page=view, problems=problems,
                           notices=range(1, redpages.MAX_NOTICES + 1))


# -- serving the red pages at their own domains ----------------------------------------------


def _host() -> str | None:
    """The request's host as a stored ``.政务`` domain (lower-case ASCII), or None."""
    host = (urlsplit(f"//{request.host}").hostname or "").rstrip(".")
    if not host.endswith(_GOV_SUFFIXES):
        return None
    try:
        return domains.gov_domain(host)
    except FieldInvalid:
        return None


def serve() -> FlaskResponse | None:
    """Before every request: a red-page domain's request gets its page (or 404), nothing else."""
    host = _host()
    if host is None:
        return None
    st = state()
    with transaction(st.sessions) as db:
        found = redpages.red_page_at(db, host)
        if found is None:
            return None  # not a red page: the application as usual
        site, page = found
        if request.path != "/" or request.method not in ("GET", "HEAD") or page.published is None:
            return _not_found()
        html = _renderer(st).render(site, redpages.RedPageContent.from_json(page.published))
    response = FlaskResponse(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _policy(html, st)
    return response


def _renderer(st: WebState) -> redpages.RedPageRenderer:
    return redpages.RedPageRenderer(st.config.redpages, st.config.badge)


_INLINE_SCRIPT_RE = re.compile(r"<script[^>]*>(.*?)</script>", re.S)


def _policy(html: str, st: WebState) -> str:
    """Scripts: the badge's own (by hash) and the badge host's; nothing a unit typed can run."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT_RE.findall(html) if body
    ]
    badge = st.config.badge
    hosts = {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
             for url in (badge.script_base, badge.image_base)}
    sources = " ".join(sorted(hosts))
    return (
        f"default-src 'none'; script-src {' '.join(hashes)} {sources}; "
        f"img-src {sources} data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _not_found() -> FlaskResponse:
    return FlaskResponse("<!DOCTYPE html><title>404</title><p>页面不存在</p>", status=404,
                    mimetype="text/html")
