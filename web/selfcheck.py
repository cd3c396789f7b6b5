"""自查: a unit checks one page of its own site, or a template file, for its badge, and gets the
verdict ``badgewatch check`` gives.

A file is judged by the pure page check (``crawler.checks.badge.check_page``), as ``check`` does
with a file. A URL, on the site's own domain only, goes through the monitor's queue as a
one-page recheck (``monitor.recheck``), as ``badgewatch recheck URL`` does: a running monitor
does it, else this app runs it the way that command does, in a thread. Each unit may ask for
``URL_CHECKS_PER_HOUR`` URL checks an hour; the page refreshes itself until the verdict is in.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from badgewatch.config import Config
from badgewatch.domains import display_domain
from badgewatch.vocabulary import VERDICT_LABELS
from crawler.checks.badge import BadgePatterns, Policy, SiteBadge, check_page
from crawler.urls import request_url
from monitor.engine import engine_for
from monitor.recheck import RecheckTimeout, request_recheck, run_until_done
from reports.data import Reason
from store.db import transaction
from store.models import JobState, PageResult, Role, Site, SiteCheck
from web import audit
from web.applyform import add_error
from web.context import WebState, client_address, state
from web.permissions import allow, job_or_404, site_or_404, visible_sites

bp = Blueprint("selfcheck", __name__, url_prefix="/unit/selfcheck")

URL_CHECKS_PER_HOUR = 10
RUN_TIMEOUT = 600.0
REFRESH_SECONDS = 2
_JOB_LABELS = {JobState.QUEUED: "排队等待检查", JobState.RUNNING: "正在检查"}


class SelfCheckForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    site = SelectField("网站", choices=[], validate_choice=False)
    url = StringField("网页地址")
    file = FileField("模板文件")


@dataclass(frozen=True)
class Verdict:
    """A page's verdict as the unit reads it."""

    verdict: str
    label: str
    reasons: list[Reason]
    message: str


def _verdict(verdict: str, codes: list[str], message: str) -> Verdict:
    return Verdict(verdict, VERDICT_LABELS.get(verdict, verdict),
                   [Reason.of(code) for code in codes if code != "ok"], message)


def _site_choices(form: SelfCheckForm) -> None:
    with transaction(state().sessions) as db:
        form.site.choices = [
            SelectChoice(str(site.id), site.name)
            for site in db.scalars(visible_sites(g.user).order_by(Site.name, Site.id))
        ]


@bp.route("/", methods=["GET", "POST"])
@allow(Role.UNIT_HANDLER)
def selfcheck() -> str | Response:
    st = state()
    form = SelfCheckForm()
    _site_choices(form)
    verdict = None
    if request.method == "POST":
        site_id = int(form.site.data) if (form.site.data or "").isdigit() else 0
        if form.site.data and form.site.data not in {c.value for c in form.site.choices}:
            abort(404)  # a site outside one's reach, whatever else was posted
        if request.form.get("action") == "url":
            job_id = _queue_url(form, st, site_id)
            if job_id is not None:
                return redirect(url_for("selfcheck.progress", job_id=job_id, url=form.url.data))
        else:
            verdict = _check_file(form, st, site_id)
    return render_template("selfcheck.html", form=form, verdict=verdict,
                           per_hour=URL_CHECKS_PER_HOUR)


def _badge(config: Config, site: Site) -> SiteBadge:
    return SiteBadge(site.identifier, site.certificate,
                     BadgePatterns.from_spec(config.badge.spec()))


def _check_file(form: SelfCheckForm, st: WebState, site_id: int) -> Verdict | None:
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        add_error(form.file, "请选择要检查的模板文件")
        return None
    content = upload.read()
    with transaction(st.sessions) as db:
        site = site_or_404(db, g.user, site_id)
        try:
            badge = _badge(st.config, site)
        except ValueError:  # a registration the check cannot read: the site's record is at fault
            add_error(form.site, "此网站登记的网站标识编号或证书编号有误，无法检查，请联系同级编办")
            return None
        audit.record(db, action="selfcheck.file", now=st.now(), user=g.user,
                     address=client_address(), object_type="site", object_id=site.id)
    page = check_page(content, badge, Policy.from_setting(st.config.crawl.failing_reasons))
    return _verdict(page.verdict, list(page.reasons), page.message)


def _own_url(typed: str, site: Site) -> str | None:
    """The URL as the crawl requests it, when it is an http(s) URL on the site's own domain."""
    text = typed.strip()
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    url = request_url(text)
    host = (urlsplit(url).hostname or "").lower().rstrip(".") if url else ""
    own = {site.domain, site.english_domain} - {None}
    return url if host in own else None


def _checks_this_hour(st: WebState) -> int:
    since = st.now() - timedelta(hours=1)
    with transaction(st.sessions) as db:
        return audit.count_since(
            db, action="selfcheck.url", since=since, user=g.user, same_unit=True
        )


def _queue_url(form: SelfCheckForm, st: WebState, site_id: int) -> int | None:
    with transaction(st.sessions) as db:
        site = site_or_404(db, g.user, site_id)
        url = _own_url(form.url.data or "", site)
        domains = "、".join(
            display_domain(d) for d in (site.domain, site.english_domain) if d
        )
    if url is None:
        add_error(form.url, f"请填写本网站（{domains}）上的网页地址，以 http:// 或 https:// 开头")
        return None
    if _checks_this_hour(st) >= URL_CHECKS_PER_HOUR:
        add_error(form.url, f"每个单位每小时最多自查 {URL_CHECKS_PER_HOUR} 个网页，请稍后再试")
        return None
    now = st.now()
    engine = engine_for(st.config, st.sessions)
    try:
        enqueued = request_recheck(engine, site_id, url=url, render=False, now=now)
        with transaction(st.sessions) as db:
            audit.record(db, action="selfcheck.url", now=now, user=g.user,
                         address=client_address(), object_type="site", object_id=site_id,
                         detail={"url": url, "job": enqueued.job_id})
            running = engine.available(db, now=now)
    finally:
        engine.close()
    if not running:
        _run_here(st, enqueued.job_id)
    return enqueued.job_id


def _run_here(st: WebState, job_id: int) -> None:
    """No monitor is running: run the queue's rechecks here, as ``badgewatch recheck`` does."""

    def run() -> None:
        # A timeout leaves it queued for the monitor; the page keeps saying so.
        with contextlib.suppress(RecheckTimeout):
            run_until_done(st.config, st.sessions, job_id, timeout=RUN_TIMEOUT)

    threading.Thread(target=run, name=f"selfcheck-{job_id}", daemon=True).start()


@bp.route("/jobs/<int:job_id>")
@allow(Role.UNIT_HANDLER)
def progress(job_id: int) -> str:
    """The job's progress, then the verdict of the page asked about (``url``: a page recheck
    merged with another becomes the whole site's, whose pages include it)."""
    st = state()
    with transaction(st.sessions) as db:
        job = job_or_404(db, g.user, job_id)
        site = site_or_404(db, g.user, job.site_id)
        url = _own_url(request.args.get("url", ""), site) or job.url or ""
        verdict = None
        failed = None
        if job.state is JobState.DONE and job.run_id is not None:
            verdict = _page_verdict(db, job.run_id, site, url)
        elif job.state in (JobState.DONE, JobState.FAILED):
            failed = job.error or "检查未能完成"
        site_name, waiting = site.name, _JOB_LABELS.get(job.state)
    return render_template(
        "selfcheck_job.html", url=url, site_name=site_name, waiting=waiting,
        verdict=verdict, failed=failed, refresh=REFRESH_SECONDS if waiting else None,
    )


def _page_verdict(db: Session, run_id: int, site: Site, url: str) -> Verdict | None:
    """The verdict of the page at ``url`` (else the run's first page of the site), from the
    check the run stored."""
    row = db.execute(
        select(PageResult.verdict, PageResult.reasons, PageResult.error)
        .join(SiteCheck, SiteCheck.id == PageResult.check_id)
        .where(SiteCheck.run_id == run_id, SiteCheck.site_id == site.id)
        .order_by((PageResult.url == url).desc(), PageResult.depth, PageResult.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    verdict, codes, error = row
    return _verdict(verdict, list(codes), error or "")
