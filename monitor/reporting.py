"""The reports written after each nightly run.

The nightly run is over when no nightly job is queued or running any more; the reports are
then written for every office with sites into ``<reports>/<day>/`` (the day in the deployment's
timezone) and ``<reports>/latest`` is switched to it in one rename. The finishing time of the
run they cover is kept in ``<reports>/state.json``, so a restarted monitor neither misses a run
nor writes the same one twice. Older days beyond ``[reports] keep`` are removed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from badgewatch import localtime
from badgewatch.runtime import Runtime
from reports.build import ReportSet, write_reports
from reports.paths import LATEST, reports_root
from store.db import transaction
from store.models import CrawlJob, JobState

log = logging.getLogger(__name__)
STATE_FILE = "state.json"
RETRY_AFTER = timedelta(minutes=10)


def finished_nightly(session: Session) -> datetime | None:
    """When the last nightly run finished, or None while one is queued or running."""
    active = session.scalar(
        select(func.count())
        .select_from(CrawlJob)
        .where(CrawlJob.kind == "nightly", CrawlJob.state.in_([JobState.QUEUED, JobState.RUNNING]))
    )
    if active:
        return None
    return session.scalar(
        select(func.max(CrawlJob.finished_at)).where(CrawlJob.kind == "nightly")
    )


def _reported(root: Path) -> str | None:
    try:
        return str(json.loads((root / STATE_FILE).read_text("utf-8"))["nightly_finished_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def publish(runtime: Runtime, *, now: datetime, covers: datetime | None = None) -> ReportSet:
    """Write every office's report for today and make it the latest."""
    config = runtime.config
    root = reports_root(config)
    day = localtime.today(now, config.calendar.zone).isoformat()
    with transaction(runtime.sessions) as session:
        result = write_reports(
            session, root / day, config=config, calendar=runtime.calendar, now=now
        )
    link = root / f".{LATEST}-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(day)
    link.replace(root / LATEST)
    if covers is not None:
        (root / STATE_FILE).write_text(
            json.dumps({"nightly_finished_at": covers.isoformat(), "day": day}), "utf-8"
        )
    days = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()
                  and len(p.name) == 10 and p.name[4] == "-")
    for old in days[: -config.reports.keep]:
        shutil.rmtree(old, ignore_errors=True)
    return result


class NightlyReports:
    """Watches for the end of each nightly run and writes the reports in a thread of their own,
    so the monitor keeps dispatching rechecks meanwhile."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.thread: threading.Thread | None = None
        self.last: ReportSet | None = None
        self.failed_at: datetime | None = None

    def tick(self, now: datetime) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        if self.failed_at is not None and now - self.failed_at < RETRY_AFTER:
            return
        with transaction(self.runtime.sessions) as session:
            covers = finished_nightly(session)
        if covers is None or _reported(reports_root(self.runtime.config)) == covers.isoformat():
            return
        self.thread = threading.Thread(
            target=self._run, args=(now, covers), name="nightly-reports", daemon=True
        )
        self.thread.start()

    def _run(self, now: datetime, covers: datetime) -> None:
        try:
            self.last = publish(self.runtime, now=now, covers=covers)
            self.failed_at = None
            log.info("nightly reports: %d office(s), %d site(s) in %s",
                     len(self.last.offices), self.last.sites, self.last.directory)
        except Exception:
            self.failed_at = now
            log.exception("nightly reports failed; trying again in %s", RETRY_AFTER)

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)
