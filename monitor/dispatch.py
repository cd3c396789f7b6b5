"""Runs queued crawl work in crawl processes: several sites per process, a few processes.

The dispatcher only claims jobs, starts ``python -m crawler.run`` with them and watches the
processes; the crawl process itself completes each job, in the same transaction as the site's
results, and only while its attempt still owns the job. A distributed engine (Celery, RQ,
Dramatiq…) can replace this class: its worker claims jobs the same way and runs the same
``crawler.run`` with the same job file, so the crawl code does not change.

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


@dataclass
class Dispatcher:
    config: Config
    sessions: sessionmaker[Session]
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    env: dict[str, str] = field(default_factory=dict)
    rechecks_only: bool = False  # a `recheck` command standing in for an absent monitor
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
        while True:
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
        with transaction(self.sessions) as session:
            jobs = [self._site_job(session, claim) for claim in claims]
        recheck = all(c.kind == "recheck" for c in claims)
        env = dict(self.env)
        if any(c.render for c in claims):
            env["BADGEWATCH_RENDER_ENABLED"] = "true"
        log_file = Path(self.config.paths.data_dir) / "crawl.log"
        run_id, process = start_run(
            self.sessions,
            self.config,
            jobs,
            trigger="recheck" if recheck else "nightly",
            now=now,
            env=env,
            log_file=log_file,
        )
        with transaction(self.sessions) as session:
            queue.attach_run(session, [c.owner for c in claims], run_id)
        self.batches.append(Batch(run_id, process, claims, now, recheck))
        log.info("run %s: %d site(s) in process %s", run_id, len(claims), process.pid)

    @staticmethod
    def _site_job(session: Session, claim: queue.Claim) -> SiteJob:
        site = session.get(Site, claim.site_id)
        assert site is not None
        return job_for(
            site, only_url=claim.url, queue_job=claim.job_id, owner=claim.owner,
            full=claim.kind == "recheck",  # a person asked: judged in full (crawler.known)
        )

    def _reap(self, now: datetime) -> None:
        for batch in list(self.batches):
            if batch.process.poll() is None:
                continue
            self.batches.remove(batch)
            reason = exit_reason(batch.process.returncode)
            with transaction(self.sessions) as session:
                # A run the process left running is over; the run's row first, then the jobs,
                # the order the crawl's own publishing transaction takes them in.
                stop_run(session, batch.run_id, now=now, reason=reason, pid=batch.process.pid)
                # Jobs the process did not complete (it died, or was stopped) go back to the queue.
                left = queue.requeue(session, batch.owners, now=now, reason=reason)
            self.finished_sites.extend(c.site_id for c in batch.claims)
            if left:
                log.warning("run %s: %d job(s) requeued", batch.run_id, left)

    def _enforce_time_limit(self, now: datetime) -> None:
        """Over the limit, a crawl is told to stop once (SIGTERM, a graceful stop); one that
        is still there ``STOP_WAIT_SECONDS`` later is killed."""
        limit = timedelta(seconds=self.config.monitor.job_time_limit)
        for batch in self.batches:
            if batch.process.poll() is not None or now - batch.started <= limit:
                continue
            if batch.stop_sent is None:
                log.warning("run %s: over the time limit, stopping it", batch.run_id)
                batch.process.send_signal(signal.SIGTERM)
                batch.stop_sent = now
            elif now - batch.stop_sent > timedelta(seconds=STOP_WAIT_SECONDS):
                log.warning("run %s: did not stop, killing it", batch.run_id)
                batch.process.kill()

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
