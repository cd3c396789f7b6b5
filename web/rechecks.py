"""立即复查 from the browser: through the monitor's queue (``monitor.recheck``, whichever engine
runs it), ahead of the nightly run. With nothing running the queue (no monitor on SQLite, no
worker on PostgreSQL) the web application runs the queued recheck itself, as
``badgewatch recheck`` does, in a thread of its own so the page can show the progress. A person
may queue ``[web] rechecks_per_minute`` rechecks a minute (counted in the audit log, so every
worker process agrees)."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import g
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from monitor.engine import engine_for
from monitor.recheck import RecheckTimeout, request_recheck, run_until_done
from store.db import transaction
from store.models import CrawlJob, JobState, Site
from web import audit
from web.context import client_address, state
from workflow.deadlines import evaluate_site
from workflow.workdays import WorkCalendar

ACTION = "site.recheck"
SETTLING = timedelta(minutes=5)  # how long a finished recheck's verdict may wait to settle
RUN_TIMEOUT = 3600.0  # seconds a recheck run here may take, as `badgewatch recheck`'s default


@dataclass(frozen=True)
class Progress:
    """The site's recheck still to finish: queued or running since ``since``."""

    state: JobState
    since: datetime

    @property
    def text(self) -> str:
        return "排队等待复查" if self.state is JobState.QUEUED else "正在复查"


def progress(
    session: Session, site: Site, *, now: datetime, today: date, calendar: WorkCalendar
) -> Progress | None:
    """The site's recheck still to finish, or None once its verdict is shown: the job queued
    or running, or done but its verdict not yet settled into the site's state (the runner
    settles it right after).

    The site is read again after its job: on SQLite each read sees the latest commit, so a
    site read before the job could predate the crawl's commit that finished the job, and the
    page would show neither the progress nor the new verdict. Build the page's row from the
    site after calling this."""
    job = session.scalar(
        select(CrawlJob)
        .where(CrawlJob.site_id == site.id, CrawlJob.kind == "recheck")
        .order_by(CrawlJob.id.desc())
    )
    session.refresh(site)
    if job is None:
        return None
    since = job.started_at or job.enqueued_at
    if job.state in (JobState.QUEUED, JobState.RUNNING):
        return Progress(job.state, since)
    settling = (
        job.state is JobState.DONE
        and job.finished_at is not None
        and now - job.finished_at < SETTLING
        and evaluate_site(site, today=today, calendar=calendar).state is not site.state
    )
    return Progress(JobState.RUNNING, since) if settling else None


def request(site_id: int) -> str | None:
    """Queue a recheck of the site for this request's person; the refusal to show, or None."""
    st = state()
    now = st.now()
    limit = st.web.rechecks_per_minute
    with transaction(st.sessions) as db:
        recent = audit.count_since(
            db, action=ACTION, since=now - timedelta(minutes=1), user=g.user
        )
        if recent >= limit:
            return f"每分钟最多可申请复查 {limit} 次，请稍后再试。"
        audit.record(db, action=ACTION, now=now, user=g.user, address=client_address(),
                     object_type="site", object_id=site_id)
    engine = engine_for(st.config, st.sessions)
    try:
        with transaction(st.sessions) as db:
            running = engine.available(db, now=now)
        enqueued = request_recheck(engine, site_id, url=None, render=False, now=now)
    finally:
        engine.close()
    if not running and enqueued.state is JobState.QUEUED:
        _run_here(st.config, st.sessions, enqueued.job_id)
    return None


def _run_here(config: Config, factory: sessionmaker[Session], job_id: int) -> None:
    """No monitor: dispatch the queued recheck in a thread that lives as long as its crawl."""

    def work() -> None:
        # Past the timeout the job stays in the queue for the monitor; its page says so.
        with contextlib.suppress(RecheckTimeout):
            run_until_done(config, factory, job_id, timeout=RUN_TIMEOUT)

    threading.Thread(target=work, name=f"recheck-{job_id}", daemon=True).start()
