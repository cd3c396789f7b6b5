"""Start a crawl in its own process and follow it; imports no Scrapy (the monitor uses this).

The parent records the run, hands the jobs to ``python -m crawler.run`` in a file, and reads
progress from the database, which is the only thing the two processes share.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from crawler import jobs as jobs_module
from crawler.jobs import SiteJob
from crawler.results import create_run, reap_stale_runs
from store.db import transaction
from store.models import CrawlRun, RunState, SiteCheck


@dataclass(frozen=True)
class Progress:
    run_id: int
    pages: int
    sites_finished: int
    sites: int
    elapsed: float


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    state: RunState
    finish_reason: str | None
    pages: int
    exit_code: int


def start_run(
    factory: sessionmaker[Session],
    config: Config,
    jobs: list[SiteJob],
    *,
    trigger: str,
    now: datetime,
    env: dict[str, str] | None = None,
    log_file: Path | None = None,
) -> tuple[int, subprocess.Popen[bytes]]:
    """Record a run and start its crawl process; returns the run id and the process."""
    with transaction(factory) as session:
        reap_stale_runs(
            session, now=now, stale_after=timedelta(minutes=config.crawl.stale_run_minutes)
        )
        run_id = create_run(session, trigger=trigger, now=now, sites=len(jobs)).id
    data_dir = Path(config.paths.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"run{run_id}-", suffix=".json", dir=data_dir)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(jobs_module.dumps(jobs))
    log = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.run", "--run-id", str(run_id), "--jobs", name],
        stdout=log,
        stderr=subprocess.STDOUT if log_file else subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    return run_id, process


def progress(factory: sessionmaker[Session], run_id: int, started: float) -> Progress:
    with transaction(factory) as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        finished = session.scalar(
            select(func.count())
            .select_from(SiteCheck)
            .where(SiteCheck.run_id == run_id, SiteCheck.finished_at.is_not(None))
        )
        elapsed = time.monotonic() - started
        return Progress(run_id, run.pages, int(finished or 0), run.sites, elapsed)


def follow(
    factory: sessionmaker[Session],
    run_id: int,
    process: subprocess.Popen[bytes],
    *,
    on_progress: Callable[[Progress], None] | None = None,
    interval: float = 0.5,
    timeout: float | None = None,
) -> RunOutcome:
    """Wait for the crawl process, reporting progress; a timeout stops it (SIGTERM, then KILL)."""
    started = time.monotonic()
    while process.poll() is None:
        if timeout is not None and time.monotonic() - started > timeout:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            break
        if on_progress is not None:
            on_progress(progress(factory, run_id, started))
        time.sleep(interval)
    with transaction(factory) as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        if run.state is RunState.RUNNING:
            # The process died before it could say so.
            run.state = RunState.INCOMPLETE
            run.finish_reason = f"exit code {process.returncode}"
            run.finished_at = run.heartbeat_at
        return RunOutcome(run_id, run.state, run.finish_reason, run.pages, process.returncode)
