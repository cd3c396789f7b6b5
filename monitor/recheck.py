"""On-demand rechecks: through the same queue as the nightly run, ahead of it."""

from __future__ import annotations

import os
import time
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from badgewatch.runtime import Runtime, utcnow
from monitor.dispatch import Dispatcher
from monitor.engine import Engine
from monitor.service import settle_sites
from store import queue
from store.db import transaction
from store.models import CrawlJob, JobState

FINAL = (JobState.DONE, JobState.FAILED)


class RecheckTimeout(Exception):
    """The recheck did not finish in time; it stays queued or running."""


def request_recheck(
    engine: Engine, site_id: int, *, url: str | None, render: bool, now: datetime
) -> queue.Enqueued:
    return engine.recheck(site_id, url=url, render=render, now=now)


def recheck(
    config: Config,
    factory: sessionmaker[Session],
    engine: Engine,
    site_id: int,
    *,
    url: str | None,
    render: bool,
    monitor_running: bool,
    wait: bool,
    timeout: float,
) -> CrawlJob | int:
    """Queue a recheck; wait for it (a running monitor or worker does it) or run it here
    (``monitor_running`` False: nothing runs the queue). Returns the finished job, or the
    queued job's id when not waiting."""
    enqueued = request_recheck(engine, site_id, url=url, render=render, now=utcnow())
    if monitor_running and not wait:
        return enqueued.job_id

    def finish(job_id: int) -> CrawlJob:
        if monitor_running:
            return wait_until_done(factory, job_id, timeout=timeout)
        return run_until_done(config, factory, job_id, timeout=timeout)

    if enqueued.state is JobState.RUNNING:
        # A crawl of the site was already under way: its verdict may predate the request,
        # so let it finish and check again.
        finish(enqueued.job_id)
        enqueued = request_recheck(engine, site_id, url=url, render=render, now=utcnow())
    return finish(enqueued.job_id)


def _job(factory: sessionmaker[Session], job_id: int) -> CrawlJob:
    with transaction(factory) as session:
        job = session.get(CrawlJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


def wait_until_done(
    factory: sessionmaker[Session], job_id: int, *, timeout: float, interval: float = 0.5
) -> CrawlJob:
    """Wait for a running monitor to finish the job."""
    deadline = time.monotonic() + timeout
    while True:
        job = _job(factory, job_id)
        if job.state in FINAL:
            return job
        if time.monotonic() > deadline:
            raise RecheckTimeout(f"recheck job {job_id} is still {job.state.value}")
        time.sleep(interval)


def run_until_done(
    config: Config, factory: sessionmaker[Session], job_id: int, *, timeout: float
) -> CrawlJob:
    """No monitor is running: dispatch rechecks here until this one is done."""
    runtime = Runtime(config)
    dispatcher = Dispatcher(
        config, runtime.sessions, worker=f"recheck:{os.getpid()}", rechecks_only=True
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            now = utcnow()
            dispatcher.tick(now)
            finished, dispatcher.finished_sites = dispatcher.finished_sites, []
            settle_sites(runtime, finished, now=now)
            job = _job(factory, job_id)
            if job.state in FINAL and not dispatcher.busy:
                return job
            if time.monotonic() > deadline:
                raise RecheckTimeout(f"recheck job {job_id} is still {job.state.value}")
            time.sleep(0.2)
    finally:
        dispatcher.stop(utcnow())
        settle_sites(runtime, dispatcher.finished_sites, now=utcnow())
        runtime.close()
