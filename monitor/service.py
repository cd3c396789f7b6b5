"""``badgewatch monitor``: the scheduler, the queue's dispatcher, notifications, the watchdog.

One process. APScheduler 3.x keeps the nightly and daily jobs in the database (coalesced, one
instance at a time, with a misfire grace so a monitor that was down at 01:00 runs the missed
crawl once when it comes back). The main loop ticks every few seconds: dispatch queued work,
turn finished checks into site states and notifications, deliver the outbox, beat, watch.
SIGTERM stops it cleanly: crawls are stopped and their unfinished jobs go back to the queue.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from badgewatch.config import Config, MonitorConfig, parse_cron
from badgewatch.runtime import Runtime, utcnow
from monitor import deadlines, notices, watchdog
from monitor.dispatch import Dispatcher
from monitor.engine import uses_workers
from monitor.reporting import NightlyReports
from monitor.watchdog import live_monitor
from notify.channels import channels_from_config
from notify.outbox import deliver_due
from store import queue
from store.db import transaction
from store.models import CrawlJob, JobState, MonitorBeat, Site

log = logging.getLogger(__name__)

NIGHTLY_JOB = "nightly-crawl"
DAILY_JOB = "daily-pass"
WATCH_EVERY = timedelta(seconds=60)


def cron_trigger(line: str, timezone: str) -> CronTrigger:
    """Five fields as crontab; six fields put seconds first (for short test schedules). The
    configuration checked the line at start-up with the same parser."""
    trigger: CronTrigger = parse_cron(line, timezone)
    return trigger


def make_scheduler(runtime: Runtime, monitor: MonitorConfig) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=runtime.engine)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": monitor.misfire_grace_seconds,
        },
        timezone=monitor.timezone,
    )


SCHEDULED = (
    (NIGHTLY_JOB, "monitor.jobs:queue_nightly", "nightly_cron", "queue the nightly crawl"),
    (DAILY_JOB, "monitor.jobs:daily_pass", "digest_cron", "deadlines, reminders, digests"),
)


def start_scheduler(scheduler: BackgroundScheduler, monitor: MonitorConfig) -> None:
    """Start with the stored jobs, so a run missed while the monitor was down fires once now;
    a job is replaced only when its schedule changed in the configuration."""
    scheduler.start(paused=True)
    for job_id, func, setting, name in SCHEDULED:
        trigger = cron_trigger(getattr(monitor, setting), monitor.timezone)
        stored = scheduler.get_job(job_id)
        if stored is None or str(stored.trigger) != str(trigger):
            scheduler.add_job(func, trigger, id=job_id, name=name, replace_existing=True)
    scheduler.resume()


def settle_sites(runtime: Runtime, site_ids: list[int], *, now: datetime) -> None:
    """Sites whose crawl ended: their new state, and what the unit and office are told."""
    if not site_ids:
        return
    today = runtime.workflow.today(now)
    with transaction(runtime.sessions) as session:
        for site in session.scalars(select(Site).where(Site.id.in_(site_ids))):
            change = deadlines.apply_check(
                session, site, now=now, calendar=runtime.calendar, today=today
            )
            if change is not None:
                notices.on_state_change(
                    session, change, now=now, calendar=runtime.calendar, config=runtime.config
                )


def requeue_abandoned(session: Session, *, now: datetime, tick: float) -> int:
    """Jobs held by monitors that no longer beat (killed, machine lost) are queued again; their
    crawl processes died with them, or will find they no longer own their jobs."""
    alive = live_monitor(session, now=now, tick=tick)
    running = session.execute(
        select(CrawlJob.owner, CrawlJob.worker).where(CrawlJob.state == JobState.RUNNING)
    ).all()
    owners = [
        owner
        for owner, worker in running
        if owner and worker and worker.startswith("monitor:")
        and (alive is None or worker != f"monitor:{alive.id}")
    ]
    if not owners:
        return 0
    return queue.requeue(session, owners, now=now, reason="its monitor stopped beating")


@dataclass
class Monitor:
    config: Config
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        self.runtime = Runtime(self.config)
        self.id = secrets.token_hex(8)
        # On PostgreSQL `badgewatch worker`s run the crawls and fire the schedule
        # (monitor/workers.py); the monitor still delivers, reports and watches.
        self.workers_run_crawls = uses_workers(self.config)
        self.dispatcher = Dispatcher(
            self.config, self.runtime.sessions, worker=f"monitor:{self.id}",
            runs_crawls=not self.workers_run_crawls,
        )
        self.scheduler = make_scheduler(self.runtime, self.config.monitor)
        self.stopping = threading.Event()
        self._last_watch: datetime | None = None
        self._channels = channels_from_config(self.config)
        self.reports = NightlyReports(self.runtime)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        now = self.clock()
        # The schedule first, so that the first beat `monitor status` reads already shows it.
        if not self.workers_run_crawls:
            start_scheduler(self.scheduler, self.config.monitor)
        with transaction(self.runtime.sessions) as session:
            session.add(
                MonitorBeat(
                    id=self.id, host=socket.gethostname(), pid=os.getpid(),
                    started_at=now, heartbeat_at=now, info=self._info(),
                )
            )
            # Whatever a monitor that died left running goes back to the queue at once.
            requeue_abandoned(session, now=now, tick=self.config.monitor.tick_seconds)
        log.info("monitor %s started; next runs: %s", self.id, self.next_runs())

    def run(self) -> None:
        """Tick until ``stopping`` is set (SIGTERM or SIGINT), then stop cleanly."""
        self.start()
        try:
            while not self.stopping.is_set():
                self.tick(self.clock())
                self.stopping.wait(self.config.monitor.tick_seconds)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        now = self.clock()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.dispatcher.stop(now)
        self._after_crawls(now)
        self.reports.join(timeout=120)
        with transaction(self.runtime.sessions) as session:
            beat = session.get(MonitorBeat, self.id)
            if beat is not None:
                beat.stopped_at = now
        self.runtime.close()
        log.info("monitor %s stopped", self.id)

    # -- the loop ----------------------------------------------------------------------------

    def tick(self, now: datetime) -> None:
        self.dispatcher.tick(now)
        self._after_crawls(now)
        self.reports.tick(now)
        deliver_due(
            self.runtime.sessions, self._channels, now=now, notify=self.config.notify
        )
        if self._last_watch is None or now - self._last_watch >= WATCH_EVERY:
            self._last_watch = now
            with transaction(self.runtime.sessions) as session:
                watchdog.watch(session, now=now, config=self.config)
        self._beat(now)

    def _after_crawls(self, now: datetime) -> None:
        finished, self.dispatcher.finished_sites = self.dispatcher.finished_sites, []
        settle_sites(self.runtime, finished, now=now)

    def next_runs(self) -> dict[str, str | None]:
        return {
            job.id: job.next_run_time.isoformat() if job.next_run_time else None
            for job in self.scheduler.get_jobs()
        }

    def _info(self) -> dict[str, Any]:
        return {
            "next_runs": self.next_runs(),
            "running": [
                {"run_id": b.run_id, "sites": [c.site_id for c in b.claims], "pid": b.process.pid,
                 "started_at": b.started.isoformat()}
                for b in self.dispatcher.batches
            ],
        }

    def _beat(self, now: datetime) -> None:
        info = self._info()
        with transaction(self.runtime.sessions) as session:
            beat = session.get(MonitorBeat, self.id)
            if beat is not None:
                beat.heartbeat_at = now
                beat.info = info
