"""Runs queued crawl work in crawl processes: several sites per process, a few processes.

The dispatcher only claims jobs, starts ``python -m crawler.run`` with them and watches the
processes; the crawl process itself completes each job, in the same transaction as the site's
results, and only while its attempt still owns the job. A distributed engine (Celery, RQ,
Dramatiq…) can replace this class: its worker claims jobs the same way and runs the same
``crawler.run`` with the same job file, so the crawl code does not change; on PostgreSQL,
Procrastinate does (``monitor/workers.py``, through ``launch`` and ``reap`` below).

Rechecks have a lane of their own: one process slot that only rechecks may use, each recheck
alone in its process, so a recheck is never stuck behind a nightly batch.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from crawler.jobs import SiteJob, job_for
from crawler.launch import STOP_WAIT_SECONDS, exit_reason, start_run
from crawler.results import stop_run
from store import queue
from store.db import transaction
from store.models import Site

log = logging.getLogger(__name__)

RECHECK_LANES = 1


@dataclass
class Batch:
    """One crawl process and the jobs it was given."""

    run_id: int
    process: subprocess.Popen[bytes]
    claims: list[queue.Claim]
    started: datetime
    recheck: bool
    stop_sent: datetime | None = None  # when it was told to stop (the time limit)

    @property
    def owners(self) -> list[str]:
        return [c.owner for c in self.claims]

    def enforce_time_limit(self, now: datetime, limit: timedelta) -> None:
        """Over the limit, the crawl is told to stop once (SIGTERM, a graceful stop); one
        that is still there ``STOP_WAIT_SECONDS`` later is killed."""
        if self.process.poll() is not None or now - self.started <= limit:
            return
        if self.stop_sent is None:
            log.warning("run %s: over the time limit, stopping it", self.run_id)
            self.process.send_signal(signal.SIGTERM)
            self.stop_sent = now
        elif now - self.stop_sent > timedelta(seconds=STOP_WAIT_SECONDS):
            log.warning("run %s: did not stop, killing it", self.run_id)
            self.process.kill()


def launch(
    config: Config,
    sessions: sessionmaker[Session],
    claims: list[queue.Claim],
    now: datetime,
    *,
    env: dict[str, str] | None = None,
    process_group: int | None = None,
    die_with_launcher: bool = False,
) -> Batch:
    """Start one crawl process for these claims and record its run on their jobs. Call it
    from a thread that lives as long as the crawl (see ``crawler.launch.start_run``)."""
    with transaction(sessions) as session:
        jobs = [_site_job(session, claim) for claim in claims]
    recheck = all(c.kind == "recheck" for c in claims)
    run_env = dict(env or {})
    if any(c.render for c in claims):
        run_env["BADGEWATCH_RENDER_ENABLED"] = "true"
    log_file = Path(config.paths.data_dir) / "crawl.log"
    run_id, process = start_run(
        sessions,
        config,
        jobs,
        trigger="recheck" if recheck else "nightly",
        now=now,
        env=run_env,
        log_file=log_file,
        process_group=process_group,
        die_with_launcher=die_with_launcher,
    )
    log.info("run %s: %d site(s) in process %s", run_id, len(claims), process.pid)
    return Batch(run_id, process, claims, now, recheck)


def _site_job(session: Session, claim: queue.Claim) -> SiteJob:
    site = session.get(Site, claim.site_id)
    assert site is not None
    return job_for(
        site, only_url=claim.url, queue_job=claim.job_id, owner=claim.owner,
        full=claim.kind == "recheck",  # a person asked: judged in full (crawler.known)
    )


def reap(sessions: sessionmaker[Session], batch: Batch, now: datetime) -> int:
    """The batch's process has ended: a run it left running is over, and the jobs it did not
    complete go back to the queue. Returns how many were taken back."""
    reason = exit_reason(batch.process.returncode)
    with transaction(sessions) as session:
        # The run's row first, then the jobs, the order the crawl's own publishing
        # transaction takes them in.
        stop_run(session, batch.run_id, now=now, reason=reason, pid=batch.process.pid)
        left = queue.requeue(session, batch.owners, now=now, reason=reason)
    if left:
        log.warning("run %s: %d job(s) requeued", batch.run_id, left)
    return left


@dataclass
class Dispatcher:
    config: Config
    sessions: sessionmaker[Session]
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    env: dict[str, str] = field(default_factory=dict)
    rechecks_only: bool = False  # a `recheck` command standing in for an absent monitor
    runs_crawls: bool = True  # False on PostgreSQL, where `badgewatch worker`s run them
    batches: list[Batch] = field(default_factory=list)
    finished_sites: list[int] = field(default_factory=list)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.config.monitor.lease_seconds)

    def tick(self, now: datetime) -> None:
        """One pass: reap finished processes, enforce time limits, renew leases, start work."""
        self._reap(now)
        self._enforce_time_limit(now)
        owners = [owner for batch in self.batches for owner in batch.owners]
        if owners:
            with transaction(self.sessions) as session:
                queue.renew(session, owners, now=now, lease=self.lease)
        with transaction(self.sessions) as session:
            queue.requeue_expired(session, now=now)
        self._start_work(now)

    @property
    def busy(self) -> bool:
        return bool(self.batches)

    def _start_work(self, now: datetime) -> None:
        """Fill the free process slots: rechecks first, one to a process, in their own lane."""
        monitor = self.config.monitor
        while self.runs_crawls:
            rechecks = sum(b.recheck for b in self.batches)
            nightly = len(self.batches) - rechecks
            claims: list[queue.Claim] = []
            if rechecks < RECHECK_LANES:
                claims = queue.claim(
                    self.sessions, worker=self.worker, limit=1, now=now, lease=self.lease,
                    kinds=("recheck",),
                )
            if not claims and nightly < monitor.processes and not self.rechecks_only:
                claims = queue.claim(
                    self.sessions, worker=self.worker, limit=monitor.sites_per_process,
                    now=now, lease=self.lease,
                )
            if not claims:
                return
            self._launch(claims, now)

    def _launch(self, claims: list[queue.Claim], now: datetime) -> None:
        self.batches.append(launch(self.config, self.sessions, claims, now, env=self.env))

    def _reap(self, now: datetime) -> None:
        for batch in list(self.batches):
            if batch.process.poll() is None:
                continue
            self.batches.remove(batch)
            reap(self.sessions, batch, now)
            self.finished_sites.extend(c.site_id for c in batch.claims)

    def _enforce_time_limit(self, now: datetime) -> None:
        limit = timedelta(seconds=self.config.monitor.job_time_limit)
        for batch in self.batches:
            batch.enforce_time_limit(now, limit)

    def stop(self, now: datetime, *, timeout: float = 30.0) -> None:
        """Stop every crawl process; what they did not finish goes back to the queue."""
        for batch in self.batches:
            if batch.process.poll() is None:
                batch.process.send_signal(signal.SIGTERM)
        for batch in self.batches:
            try:
                batch.process.wait(timeout)
            except subprocess.TimeoutExpired:
                batch.process.kill()
                batch.process.wait()
        self._reap(now)
