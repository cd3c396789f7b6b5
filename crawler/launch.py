"""Start a crawl in its own process and follow it; imports no Scrapy (the monitor uses this).

The parent records the run, hands the jobs to ``python -m crawler.run`` in a file, and reads
progress from the database, which is the only thing the two processes share. The crawl dies with
the thread that started it (see ``crawler.stops``); whoever sees it end first records the run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from crawler import jobs as jobs_module
from crawler.jobs import SiteJob
from crawler.results import create_run, reap_stale_runs, stop_run
from store import queue
from store.db import transaction
from store.models import CrawlRun, RunState, SiteCheck

STOP_WAIT_SECONDS = 30.0  # after this, a crawl told to stop is killed
PR_SET_PDEATHSIG = 1


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
    process_group: int | None = None,
    die_with_launcher: bool = False,
) -> tuple[int, subprocess.Popen[bytes]]:
    """Record a run and start its crawl process; returns the run id and the process.

    Call it from a thread that lives as long as the crawl: the crawl is killed when that
    thread exits (the monitor and the CLI start crawls from their main thread).
    ``process_group`` 0 puts the crawl in a process group of its own (a worker's crawls do
    not get its terminal's Ctrl-C; the worker stops them itself). ``die_with_launcher`` asks
    the kernel for the parent-death signal before the crawl's program even starts, so a crawl
    still importing its libraries when its launcher is killed dies too (the crawl asks again
    itself once it runs).
    """
    with transaction(factory) as session:
        reap_stale_runs(
            session, now=now, stale_after=timedelta(minutes=config.crawl.stale_run_minutes)
        )
        run_id = create_run(session, trigger=trigger, now=now, sites=len(jobs)).id
        # The queue's attempts know their run from the start: a launcher killed before the
        # crawl started still leaves a run that taking back its attempts ends (queue.runs_held).
        queue.attach_run(session, [job.owner for job in jobs if job.owner], run_id)
    data_dir = Path(config.paths.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"run{run_id}-", suffix=".json", dir=data_dir)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(jobs_module.dumps(jobs))
    log = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable, "-m", "crawler.run", "--run-id", str(run_id), "--jobs", name,
            "--parent-pid", str(os.getpid()),
        ],
        stdout=log,
        stderr=subprocess.STDOUT if log_file else subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        process_group=process_group,
        preexec_fn=_parent_death_signal(os.getpid()) if die_with_launcher else None,  # noqa: PLW1509
    )
    return run_id, process


def _parent_death_signal(launcher: int) -> Callable[[], None]:
    """What the child runs between fork and exec: SIGKILL when its launcher's thread ends
    (``PR_SET_PDEATHSIG``), or exit now if the launcher is already gone. libc is loaded here,
    before the fork, so the child only makes two system calls."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def request() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != launcher:
            os._exit(1)

    return request


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


def exit_reason(returncode: int | None) -> str:
    """How a crawl process ended, for a run it could not close itself."""
    if returncode is None:
        return "crawl process did not end"
    if returncode < 0:
        try:
            return f"crawl process killed by {signal.Signals(-returncode).name}"
        except ValueError:
            pass
    return f"crawl process exited with code {returncode}"


def record_exit(
    factory: sessionmaker[Session], run_id: int, process: subprocess.Popen[bytes]
) -> bool:
    """Record the run incomplete if its process ended while it was still ``running``."""
    with transaction(factory) as session:
        return stop_run(
            session, run_id, now=datetime.now(UTC), reason=exit_reason(process.returncode),
            pid=process.pid,
        )


def stop_process(process: subprocess.Popen[bytes], sig: signal.Signals, wait: float) -> None:
    """Send ``sig``; kill the process if it has not ended ``wait`` seconds later."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def follow(
    factory: sessionmaker[Session],
    run_id: int,
    process: subprocess.Popen[bytes],
    *,
    on_progress: Callable[[Progress], None] | None = None,
    interval: float = 0.5,
    timeout: float | None = None,
) -> RunOutcome:
    """Wait for the crawl process, reporting progress; a timeout stops it (SIGTERM, then KILL).

    Interrupted itself (Ctrl-C), it ends the crawl at once (SIGINT) before passing the
    interruption on. However the process ended, a run it left ``running`` is recorded
    incomplete.
    """
    started = time.monotonic()
    try:
        while process.poll() is None:
            if timeout is not None and time.monotonic() - started > timeout:
                stop_process(process, signal.SIGTERM, STOP_WAIT_SECONDS)
                break
            if on_progress is not None:
                on_progress(progress(factory, run_id, started))
            time.sleep(interval)
    except BaseException:
        stop_process(process, signal.SIGINT, STOP_WAIT_SECONDS)
        record_exit(factory, run_id, process)
        raise
    record_exit(factory, run_id, process)
    with transaction(factory) as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        return RunOutcome(run_id, run.state, run.finish_reason, run.pages, process.returncode)
