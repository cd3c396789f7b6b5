"""Crawl results into the database: page rows in batches, a site's verdict once it is complete.

A site's status (``sites.status``) changes only when its check completed in this run; a run
that dies or is stopped leaves the last complete status in place and is recorded incomplete.
A verdict is published only in a transaction that finds the run still running and still this
process's, so once a stop, a reaper or a launcher has recorded the run incomplete, nothing more
of it reaches a site.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import CrawlConfig
from crawler.known import Baseline, load_baseline
from store import queue
from store.bulk import insert_rows
from store.db import transaction
from store.lease import update_if
from store.models import CrawlRun, PageRender, PageResult, RunState, Site, SiteCheck, SiteStatus
from store.records import CheckReasons, DnsRecord, RenderSummary, Unwritten

BATCH_ROWS = 500
BATCH_SECONDS = 2.0
REASON_CHARS = 60  # the width of crawl_runs.finish_reason


def site_status(*, dns_outcome: str, home_fetched: bool, checked: int, failing: int) -> SiteStatus:
    """What a complete check says about a site: DNS first, then reachability, then pages."""
    if dns_outcome == "mismatch":
        return SiteStatus.DNS_MISMATCH
    if not home_fetched:
        return SiteStatus.UNREACHABLE
    if failing:
        return SiteStatus.NON_COMPLIANT
    if checked:
        return SiteStatus.COMPLIANT
    return SiteStatus.UNCHECKED


@dataclass
class SiteTally:
    """Counts kept while one site is crawled; written to its SiteCheck when it ends."""

    check_id: int
    site_id: int
    dns: DnsRecord
    job: tuple[int, str] | None = None  # (queue job, owner token) when run from the queue
    checked: int = 0
    failing: int = 0
    not_checked: int = 0
    robots_excluded: int = 0
    home_fetched: bool = False
    carried: int = 0  # pages whose verdict was carried from the last check
    renders: RenderSummary | None = None  # None: nothing was rendered
    reasons: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)


def create_run(session: Session, *, trigger: str, now: datetime, sites: int) -> CrawlRun:
    run = CrawlRun(
        trigger=trigger,
        state=RunState.RUNNING,
        started_at=now,
        heartbeat_at=now,
        sites=sites,
        pages=0,
    )
    session.add(run)
    session.flush()
    return run


def reap_stale_runs(session: Session, *, now: datetime, stale_after: timedelta) -> int:
    """Runs whose process stopped beating are incomplete; their sites keep their old status."""
    stale = session.scalars(
        select(CrawlRun).where(
            CrawlRun.state == RunState.RUNNING, CrawlRun.heartbeat_at < now - stale_after
        )
    ).all()
    for run in stale:
        run.state = RunState.INCOMPLETE
        run.finish_reason = run.finish_reason or "died"
        run.finished_at = run.heartbeat_at
    return len(stale)


def stop_run(
    session: Session, run_id: int, *, now: datetime, reason: str, pid: int | None = None
) -> bool:
    """Record a run that is still ``running`` as incomplete; False when it was already over.

    With ``pid``, only while no other process has claimed the run. Whoever sees a crawl end
    first (its own stop handler, its witness, the launcher) records it; the rest change nothing.
    """
    owner = CrawlRun.pid.is_(None) | (CrawlRun.pid == pid) if pid is not None else true()
    running = (CrawlRun.id == run_id, CrawlRun.state == RunState.RUNNING, owner)
    stopped = update_if(
        session, CrawlRun.id, *running,
        state=RunState.INCOMPLETE, finish_reason=reason[:REASON_CHARS], finished_at=now,
    )
    return stopped is not None


class ResultWriter:
    """Buffers page rows and writes them in batches from the crawl process.

    ``stopped`` is set (from a signal handler) when the process is told to stop: from then on
    it publishes nothing, whatever finishes while it winds down. ``parent_pid`` is the
    launcher: a crawl whose launcher is gone publishes nothing either. On PostgreSQL a batch
    of page rows goes in with ``COPY`` (``store.bulk``), in the same transaction as the
    heartbeat; ``copy=False`` keeps the plain INSERT (the benchmark's baseline).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        run_id: int,
        *,
        parent_pid: int | None = None,
        copy: bool = True,
    ) -> None:
        self._factory = factory
        self.run_id = run_id
        self.pid = os.getpid()
        self.parent_pid = os.getppid() if parent_pid is None else parent_pid
        self.stopped: str | None = None
        self.closed = False
        self.copy = copy
        self._rows: list[dict[str, Any]] = []
        self._last_flush: datetime | None = None
        self.pages = 0
        with transaction(factory) as session:
            session.execute(
                update(CrawlRun).where(CrawlRun.id == run_id).values(pid=self.pid)
            )

    def stop(self, reason: str) -> None:
        """Publish nothing from now on; the first reason is kept. Safe in a signal handler."""
        if self.stopped is None:
            self.stopped = reason

    def _refusal(self, session: Session, now: datetime) -> str | None:
        """Why this process may not publish now, or None. Locks the run's row until the
        caller's transaction ends (a row lock on PostgreSQL, the write lock on SQLite), so a
        stop recorded by another process lands either before this check or after the commit."""
        if self.stopped is not None:
            return self.stopped
        if os.getppid() != self.parent_pid:
            return "orphaned: the launching process is gone"
        mine = (CrawlRun.id == self.run_id, CrawlRun.state == RunState.RUNNING)
        held = update_if(session, CrawlRun.id, *mine, CrawlRun.pid == self.pid, heartbeat_at=now)
        return None if held is not None else "the run was already recorded as over"

    def baseline(
        self,
        site_id: int,
        *,
        key: str,
        full_requested: bool,
        crawl: CrawlConfig,
        now: datetime,
    ) -> Baseline:
        """What the site's last complete check gives this crawl (``crawler.known``); the
        full-fetch sample is drawn afresh for each run."""
        with transaction(self._factory) as session:
            return load_baseline(
                session, site_id, key=key, full_requested=full_requested, crawl=crawl,
                now=now, salt=self.run_id,
            )

    def open_site(
        self,
        site_id: int,
        dns: DnsRecord,
        now: datetime,
        job: tuple[int, str] | None = None,
        *,
        incremental: bool = False,
        check_key: str | None = None,
    ) -> SiteTally:
        with transaction(self._factory) as session:
            check = SiteCheck(
                run_id=self.run_id,
                site_id=site_id,
                started_at=now,
                dns=dns,
                reasons={},
                incremental=incremental,
                check_key=check_key,
            )
            session.add(check)
            session.flush()
            return SiteTally(check_id=check.id, site_id=site_id, dns=dns, job=job)

    def add_page(self, row: dict[str, Any], now: datetime) -> None:
        self._rows.append(row)
        self.pages += 1
        if self._last_flush is None:
            self._last_flush = now
        waited = (now - self._last_flush).total_seconds()
        if len(self._rows) >= BATCH_ROWS or waited > BATCH_SECONDS:
            self.flush(now)

    def add_renders(self, rows: list[dict[str, Any]], now: datetime) -> None:
        if rows:
            with transaction(self._factory) as session:
                session.execute(insert(PageRender), rows)

    def flush(self, now: datetime) -> None:
        rows, self._rows = self._rows, []
        self._last_flush = now
        with transaction(self._factory) as session:
            insert_rows(session, PageResult, rows, copy=self.copy)
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == self.run_id)
                .values(heartbeat_at=now, pages=self.pages)
            )

    def close_site(
        self, tally: SiteTally, now: datetime, *, finished: bool, publish: bool, note: str | None
    ) -> None:
        """Write the site's counts. A site whose crawl ran to its end completes its queue job
        (if this attempt still owns it, and this process still owns a running run); only
        then, and when ``publish`` (a whole-site check), does the check become the site's
        status."""
        complete = finished and publish
        self.flush(now)
        status = site_status(
            dns_outcome=tally.dns["outcome"],
            home_fetched=tally.home_fetched,
            checked=tally.checked,
            failing=tally.failing,
        )
        with transaction(self._factory) as session:
            check = session.get(SiteCheck, tally.check_id)
            assert check is not None
            refusal = self._refusal(session, now) if finished else None
            if refusal is not None:
                # Stopped, orphaned or reaped: the job stays for the queue to hand out again.
                note = f"not published: {refusal}"
                complete = False
            elif finished and tally.job is not None:
                job_id, owner = tally.job
                # Only the attempt that still owns the job completes it and publishes a verdict.
                if not queue.complete(session, job_id, owner, now=now, run_id=self.run_id):
                    note = "superseded: this attempt no longer owned its job"
                    complete = False
            check.finished_at = now
            check.complete = complete
            check.status = status if complete else None
            check.pages_checked = tally.checked
            check.pages_failing = tally.failing
            check.pages_not_checked = tally.not_checked
            check.robots_excluded = tally.robots_excluded
            check.home_fetched = tally.home_fetched
            check.pages_carried = tally.carried
            check.reasons = CheckReasons(pages=dict(tally.reasons), refused=dict(tally.refused))
            check.renders = tally.renders if tally.renders is not None else Unwritten()
            check.note = note
            if complete:
                session.execute(
                    update(Site)
                    .where(Site.id == tally.site_id)
                    .values(status=status, checked_at=now, last_check_id=check.id)
                )

    def finish(
        self, now: datetime, *, reason: str, complete: bool, stats: dict[str, Any] | None = None
    ) -> None:
        """Close the run: finished only if every site completed and nothing stopped it. A run
        already recorded as over (stopped, reaped) keeps its state and reason; it gains the
        counts."""
        self.flush(now)
        with transaction(self._factory) as session:
            refusal = self._refusal(session, now)
            if refusal is not None:
                reason = refusal
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == self.run_id, CrawlRun.state == RunState.RUNNING)
                .values(
                    state=RunState.FINISHED if complete and refusal is None
                    else RunState.INCOMPLETE,
                    finish_reason=reason[:REASON_CHARS],
                )
            )
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == self.run_id)
                .values(finished_at=now, pages=self.pages, heartbeat_at=now, stats=stats)
            )
        self.closed = True
