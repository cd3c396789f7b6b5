"""The crawl work on many machines: Procrastinate jobs on the PostgreSQL we already require.

``badgewatch worker`` runs Procrastinate workers on any machine that reaches the database and
the sites. ``crawl_jobs`` stays the record of the work: a Procrastinate job names the queue's
jobs it should run, claims those still queued as attempts whose owner token starts with
``pq<Procrastinate job id>.<attempt>.``, runs the unchanged ``python -m crawler.run`` on them
exactly as the monitor's dispatcher does (``monitor.dispatch.launch`` and ``reap``) and renews
their leases while it runs. The crawl process completes each job only while its attempt still
owns it, so a zombie attempt can never publish.

What dies is found and run again two ways: Procrastinate retries a job whose worker stopped
beating (the ``sweep`` task, by its stalled-jobs API), and that retry first takes back the
jobs the dead attempt held; the leases of ``crawl_jobs`` run out as they always did
(``requeue_expired``), and ``sweep`` gives every queued job no Procrastinate job covers a new
one. Claims are exclusive, so a job covered twice is crawled once.

The schedule: a periodic task (``schedule``, every ``[workers] schedule_seconds``, deferred once
per period by Procrastinate whatever the number of workers) reads ``[monitor] nightly_cron``
and ``digest_cron`` in ``[monitor] timezone`` with the monitor's own parser, and defers the
nightly run and the daily pass as periodic jobs keyed by their fire time: the database keeps
one per fire time, so each fires once, and one missed while no worker ran fires when one comes
back within ``[monitor] misfire_grace_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import procrastinate
from procrastinate import exceptions as pq_exceptions
from procrastinate.job_context import JobContext
from procrastinate.types import JSONValue
from procrastinate.worker import Worker
from sqlalchemy import delete, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config, parse_cron
from badgewatch.runtime import Runtime, utcnow
from badgewatch.vocabulary import CRAWL_KIND_LABELS
from crawler.launch import STOP_WAIT_SECONDS
from crawler.results import stop_run
from monitor import jobs as scheduled
from monitor.dispatch import Batch, launch, reap
from monitor.engine import PROCRASTINATE, EngineStatus, WorkerInfo, recent_nights, recent_runs
from monitor.service import settle_sites
from store import queue
from store.db import transaction
from store.models import JobState, WorkerBeat

log = logging.getLogger(__name__)

TASK_SITES: Final = "badgewatch.crawl_sites"
TASK_SITE: Final = "badgewatch.crawl_site"
TASK_SCHEDULE: Final = "badgewatch.schedule"
TASK_SWEEP: Final = "badgewatch.sweep"
TASK_NIGHTLY: Final = "badgewatch.nightly"
TASK_DAILY: Final = "badgewatch.daily_pass"

QUEUE_NIGHTLY: Final = "nightly"
QUEUE_RECHECK: Final = "recheck"
QUEUE_CONTROL: Final = "control"  # the schedule and the sweep: short, never behind a crawl

# Procrastinate runs higher priorities first.
PRIORITY_RECHECK: Final = 10
PRIORITY_NIGHTLY: Final = 0

SCHEDULE: Final = (
    # (periodic id, task, the [monitor] setting with its cron line)
    ("nightly", TASK_NIGHTLY, "nightly_cron"),
    ("daily", TASK_DAILY, "digest_cron"),
)
KEEP_FINISHED_HOURS: Final = 72  # succeeded Procrastinate jobs are deleted after this
EXPIRED_REASON: Final = "its worker stopped renewing its lease"
STALLED_REASON: Final = "its worker stopped beating: the Procrastinate job runs again"


class SitesRequeued(RuntimeError):
    """The crawl ended without completing some of its sites; they are back in the queue and
    the Procrastinate job is retried (``[workers] retries`` times)."""


def conninfo(url: str) -> str:
    """libpq's form of the configured SQLAlchemy URL (``postgresql+psycopg://`` and all)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(config: Config, *, pool_size: int = 4) -> procrastinate.App:
    """The Procrastinate app with badgewatch's tasks; its locks, priorities and retries are
    declared here, on the tasks."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(config.database.url), min_size=1, max_size=pool_size
    )
    app = procrastinate.App(connector=connector)
    retry = procrastinate.RetryStrategy(max_attempts=config.workers.retries, wait=1)
    app.task(name=TASK_SITES, queue=QUEUE_NIGHTLY, priority=PRIORITY_NIGHTLY, retry=retry,
             pass_context=True)(crawl_sites)
    app.task(name=TASK_SITE, queue=QUEUE_RECHECK, priority=PRIORITY_RECHECK, retry=retry,
             pass_context=True)(crawl_site)
    app.task(name=TASK_NIGHTLY, queue=QUEUE_CONTROL, pass_context=True)(nightly)
    app.task(name=TASK_DAILY, queue=QUEUE_CONTROL)(daily_pass)
    every = config.workers
    app.periodic(cron=f"* * * * * */{every.schedule_seconds}", periodic_id="schedule")(
        app.task(name=TASK_SCHEDULE, queue=QUEUE_CONTROL, pass_context=True)(schedule)
    )
    app.periodic(cron=f"* * * * * */{every.sweep_seconds}", periodic_id="sweep")(
        app.task(name=TASK_SWEEP, queue=QUEUE_CONTROL, pass_context=True)(sweep)
    )
    return app


# --- deferring --------------------------------------------------------------------------------


def _chunks(ids: list[int], size: int) -> list[dict[str, JSONValue]]:
    """The arguments of the nightly Procrastinate jobs: ``size`` queue jobs each."""
    return [{"job_ids": list(ids[i : i + size])} for i in range(0, len(ids), size)]


def _site_options(site_id: int) -> dict[str, Any]:
    """A recheck: one crawl of a site at a time (``lock``), one queued recheck per site
    (``queueing_lock``)."""
    return {"lock": f"site:{site_id}", "queueing_lock": f"recheck:{site_id}"}


def defer_nightly(app: procrastinate.App, job_ids: list[int], per_job: int) -> int:
    """Nightly work in Procrastinate jobs of ``per_job`` sites (one crawl process each)."""
    chunks = _chunks(job_ids, per_job)
    if chunks:
        app.configure_task(TASK_SITES).batch_defer(*chunks)
    return len(chunks)


async def defer_nightly_async(app: procrastinate.App, job_ids: list[int], per_job: int) -> int:
    chunks = _chunks(job_ids, per_job)
    if chunks:
        await app.configure_task(TASK_SITES).batch_defer_async(*chunks)
    return len(chunks)


def defer_recheck(app: procrastinate.App, job_id: int, site_id: int) -> int | None:
    """The recheck's Procrastinate job; None when one is already queued for the site (its
    crawl claims whatever the site has queued, this job included)."""
    try:
        return app.configure_task(TASK_SITE, **_site_options(site_id)).defer(job_id=job_id)
    except pq_exceptions.AlreadyEnqueued:
        return None


async def defer_recheck_async(app: procrastinate.App, job_id: int, site_id: int) -> int | None:
    try:
        return await app.configure_task(TASK_SITE, **_site_options(site_id)).defer_async(
            job_id=job_id
        )
    except pq_exceptions.AlreadyEnqueued:
        return None


# --- the engine, as the CLI, the web and the monitor see it ----------------------------------


@dataclass
class ProcrastinateEngine:
    """PostgreSQL: the queue's jobs are run by ``badgewatch worker`` processes."""

    config: Config
    sessions: sessionmaker[Session]
    name: str = PROCRASTINATE
    _app: procrastinate.App | None = None

    def app(self) -> procrastinate.App:
        if self._app is None:
            self._app = make_app(self.config, pool_size=1).open()
        return self._app

    def enqueue_nightly(self, *, now: datetime) -> int:
        # Committed first: a crash before the defers leaves queued jobs that `sweep` covers.
        with transaction(self.sessions) as session:
            ids = queue.enqueue_nightly_jobs(session, now=now)
        defer_nightly(self.app(), ids, self.config.monitor.sites_per_process)
        return len(ids)

    def recheck(
        self, site_id: int, *, url: str | None, render: bool, now: datetime
    ) -> queue.Enqueued:
        with transaction(self.sessions) as session:
            enqueued = queue.enqueue(
                session, site_id, kind="recheck", now=now, url=url, render=render
            )
        if enqueued.state is JobState.QUEUED:
            defer_recheck(self.app(), enqueued.job_id, site_id)
        return enqueued

    def available(self, session: Session, *, now: datetime) -> bool:
        return bool(live_workers(session, stalled_seconds=self.config.workers.stalled_seconds))

    def status(self, session: Session, *, now: datetime) -> EngineStatus:
        return worker_status(session, now=now, config=self.config)

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None


def live_workers(session: Session, *, stalled_seconds: float) -> list[tuple[int, datetime]]:
    """Procrastinate's workers that beat recently, with their last heartbeat."""
    rows = session.execute(
        text(
            "SELECT id, last_heartbeat FROM procrastinate_workers "
            "WHERE last_heartbeat > now() - make_interval(secs => :secs) ORDER BY id"
        ),
        {"secs": stalled_seconds},
    ).all()
    return [(int(worker_id), beat) for worker_id, beat in rows]


def worker_status(session: Session, *, now: datetime, config: Config) -> EngineStatus:
    """The live ``badgewatch worker`` processes (``worker_beats``), each with what its
    Procrastinate workers run now, the queue, Procrastinate's jobs by status and the runs'
    throughput."""
    stats = queue.stats(session, now=now)
    doing: dict[int, list[str]] = {}
    for worker_id, task, args in session.execute(
        text(
            "SELECT worker_id, task_name, args FROM procrastinate_jobs "
            "WHERE status = 'doing' AND worker_id IS NOT NULL ORDER BY id"
        )
    ):
        doing.setdefault(int(worker_id), []).append(_job_text(task, args))
    workers = tuple(
        WorkerInfo(
            f"工作进程 {beat.host}（进程 {beat.pid}，{beat.concurrency} 个抓取进程）",
            beat.heartbeat_at,
            tuple(job for engine_id in beat.engine_ids for job in doing.get(engine_id, ())),
        )
        for beat in live_processes(session, now=now, config=config)
    )
    engine_jobs = {
        str(status): int(count)
        for status, count in session.execute(
            text("SELECT status, count(*) FROM procrastinate_jobs GROUP BY status")
        )
    }
    return EngineStatus(PROCRASTINATE, workers, stats.running_jobs, stats.queued_by_kind,
                        engine_jobs, recent_runs(session), recent_nights(session, config=config))


def live_processes(session: Session, *, now: datetime, config: Config) -> list[WorkerBeat]:
    """``badgewatch worker`` processes that beat recently and did not say they stopped."""
    since = now - timedelta(seconds=config.workers.stalled_seconds)
    return list(session.scalars(
        select(WorkerBeat)
        .where(WorkerBeat.stopped_at.is_(None), WorkerBeat.heartbeat_at > since)
        .order_by(WorkerBeat.host, WorkerBeat.pid)
    ))


def _job_text(task: str, args: dict[str, Any]) -> str:
    if task == TASK_SITES:
        ids = "、".join(str(i) for i in args.get("job_ids", []))
        return f"{CRAWL_KIND_LABELS['nightly']}（队列任务 {ids}）"
    if task == TASK_SITE:
        return f"{CRAWL_KIND_LABELS['recheck']}（队列任务 {args.get('job_id')}）"
    return task.removeprefix("badgewatch.")


# --- the worker process -----------------------------------------------------------------------


@dataclass
class WorkerRuntime:
    """What the tasks of one ``badgewatch worker`` process share."""

    config: Config
    runtime: Runtime
    name: str

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.runtime.sessions

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.config.monitor.lease_seconds)


_CURRENT: WorkerRuntime | None = None


def _current() -> WorkerRuntime:
    if _CURRENT is None:
        raise RuntimeError("badgewatch tasks run in `badgewatch worker` (monitor.workers.serve)")
    return _CURRENT


def run_workers(config: Config, *, concurrency: int) -> None:
    """``badgewatch worker``: run until SIGTERM or SIGINT, then stop the crawls (after
    ``[workers] shutdown_seconds``), their unfinished jobs going back to the queue."""
    asyncio.run(serve(config, concurrency=concurrency))


async def serve(config: Config, *, concurrency: int) -> None:
    """Three Procrastinate workers in this process, each a lane: nightly and recheck crawls
    (``concurrency`` processes), one lane only rechecks use (so a recheck never waits for a
    nightly batch to end), and one for the schedule and the sweep. The process beats in
    ``worker_beats`` with its lanes' Procrastinate worker ids."""
    global _CURRENT  # noqa: PLW0603 - one per process, as the tasks are module functions
    name = f"worker:{socket.gethostname()}:{os.getpid()}"
    _CURRENT = WorkerRuntime(config, Runtime(config), name)
    app = make_app(config, pool_size=concurrency + 4)
    every = config.workers
    common: dict[str, Any] = {
        "install_signal_handlers": False,
        "update_heartbeat_interval": every.heartbeat_seconds,
        "stalled_worker_timeout": every.stalled_seconds,
        "shutdown_graceful_timeout": every.shutdown_seconds,
        "fetch_job_polling_interval": 1.0,
    }
    lanes = (
        ([QUEUE_RECHECK, QUEUE_NIGHTLY], concurrency, "crawl"),
        ([QUEUE_RECHECK], 1, "recheck"),
        ([QUEUE_CONTROL], 1, "control"),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with app.open_async():
            lane_workers = [
                Worker(app=app, queues=queues, concurrency=n, name=f"{name}/{lane}", **common)
                for queues, n, lane in lanes
            ]
            workers = [asyncio.create_task(_run(worker)) for worker in lane_workers]
            beating = asyncio.create_task(_beat(_CURRENT, lane_workers, concurrency))
            log.info("%s: working (%d crawl process(es))", name, concurrency)
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait([stopped, *workers], return_when=asyncio.FIRST_COMPLETED)
            log.info("%s: stopping", name)
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            stopped.cancel()
            try:
                _beat_once(_CURRENT, lane_workers, concurrency, stopping=True)
            except Exception:  # the status drops it anyway once it is silent
                log.exception("%s: its stop not recorded", name)
    finally:
        _CURRENT.runtime.close()
        _CURRENT = None


async def _run(worker: Worker) -> None:
    """``Worker.run``, which Procrastinate leaves untyped (what ``App.run_worker_async``
    does, keeping the worker so that its id can be recorded)."""
    run: Callable[[], Awaitable[None]] = worker.run
    await run()


async def _beat(w: WorkerRuntime, lanes: list[Worker], concurrency: int) -> None:
    """Record this process's heartbeat every ``[workers] heartbeat_seconds``, the first as
    soon as its lanes have registered with Procrastinate."""
    interval = w.config.workers.heartbeat_seconds
    while True:
        registered = all(worker.worker_id is not None for worker in lanes)
        try:
            await asyncio.to_thread(_beat_once, w, lanes, concurrency)
        except Exception:  # a database hiccup: the next beat tries again
            log.exception("%s: heartbeat not recorded", w.name)
        await asyncio.sleep(interval if registered else min(interval, 0.5))


def _beat_once(w: WorkerRuntime, lanes: list[Worker], concurrency: int, *,
               stopping: bool = False) -> None:
    now = utcnow()
    ids = sorted(worker.worker_id for worker in lanes if worker.worker_id is not None)
    with transaction(w.sessions) as session:
        beat = session.get(WorkerBeat, w.name)
        if beat is None:
            beat = WorkerBeat(id=w.name, host=socket.gethostname()[:120], pid=os.getpid(),
                              concurrency=concurrency, started_at=now)
            session.add(beat)
        beat.heartbeat_at = now
        beat.engine_ids = ids
        beat.stopped_at = now if stopping else None


# --- the tasks: module-level functions with primitive arguments -------------------------------


async def crawl_sites(context: JobContext, job_ids: list[int]) -> None:
    """Nightly work: crawl these queue jobs (those still queued) in one crawl process."""
    await _crawl(context, job_ids)


async def crawl_site(context: JobContext, job_id: int) -> None:
    """A recheck: crawl this queue job, ahead of nightly work."""
    await _crawl(context, [job_id])


async def _crawl(context: JobContext, job_ids: list[int]) -> None:
    w = _current()
    job = context.job
    assert job.id is not None
    now = utcnow()
    with transaction(w.sessions) as session:
        # Run again after its worker died: what that attempt held comes back first, its runs
        # recorded over (a crawl killed before it could start its witness recorded nothing),
        # the runs first, then the jobs, as the crawl's publishing transaction takes them.
        for run_id in queue.runs_held(session, owner_prefix=f"pq{job.id}."):
            stop_run(session, run_id, now=now, reason=STALLED_REASON)
        queue.take_back_prefixed(session, f"pq{job.id}.", now=now, reason=STALLED_REASON)
    claims = queue.claim_jobs(
        w.sessions, job_ids, worker=(context.worker_name or w.name)[:120], now=now,
        lease=w.lease, owner_prefix=f"pq{job.id}.{job.attempts}.",
    )
    if not claims:
        return  # another attempt has them, or had them
    batch = launch(w.config, w.sessions, claims, now, process_group=0, die_with_launcher=True)
    try:
        await _follow(w, batch)
    except asyncio.CancelledError:
        # The worker is stopping: the crawl stops, its unfinished jobs go back to the queue.
        await _stop(batch)
        _finish(w, batch)
        raise
    left = _finish(w, batch)
    if left:
        raise SitesRequeued(f"run {batch.run_id}: {left} site(s) not completed, requeued")


async def _follow(w: WorkerRuntime, batch: Batch) -> None:
    """Wait for the crawl, renewing its leases and enforcing the time limit."""
    limit = timedelta(seconds=w.config.monitor.job_time_limit)
    tick = w.config.monitor.tick_seconds
    while batch.process.poll() is None:
        now = utcnow()
        batch.enforce_time_limit(now, limit)
        with transaction(w.sessions) as session:
            queue.renew(session, batch.owners, now=now, lease=w.lease)
        await asyncio.sleep(tick)


async def _stop(batch: Batch) -> None:
    if batch.process.poll() is None:
        batch.process.send_signal(signal.SIGTERM)
    waited = 0.0
    while batch.process.poll() is None and waited < STOP_WAIT_SECONDS:
        await asyncio.sleep(0.2)
        waited += 0.2
    if batch.process.poll() is None:
        batch.process.kill()
        batch.process.wait()


def _finish(w: WorkerRuntime, batch: Batch) -> int:
    """Reap as the dispatcher does, then settle the sites whose checks ended."""
    now = utcnow()
    left = reap(w.sessions, batch, now)
    settle_sites(w.runtime, [c.site_id for c in batch.claims], now=now)
    return left


async def nightly(context: JobContext, timestamp: int) -> None:
    """The nightly run: queue every monitored site, in Procrastinate jobs of
    ``[monitor] sites_per_process`` sites."""
    w = _current()
    with transaction(w.sessions) as session:
        ids = queue.enqueue_nightly_jobs(session, now=utcnow())
    chunks = await defer_nightly_async(context.app, ids, w.config.monitor.sites_per_process)
    log.info("nightly run of %s: %d site(s) queued in %d job(s)",
             datetime.fromtimestamp(timestamp, UTC).isoformat(), len(ids), chunks)


def daily_pass(timestamp: int) -> None:
    """Deadlines, reminders and the office digests, once a day (``monitor.jobs``)."""
    log.info("daily pass of %s", datetime.fromtimestamp(timestamp, UTC).isoformat())
    scheduled.daily_pass()


def last_fire(line: str, timezone: str, *, now: datetime, grace: timedelta) -> datetime | None:
    """The latest time the cron line fired at or before ``now``, no older than ``grace``."""
    trigger = parse_cron(line, timezone)
    low, high = now - grace, now
    first = trigger.get_next_fire_time(None, low)
    if first is None or first > now:
        return None
    # The latest x with a fire time in [x, now]: its next fire time is the one wanted.
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        fire = trigger.get_next_fire_time(None, middle)
        if fire is not None and fire <= now:
            low = middle
        else:
            high = middle
    fire = trigger.get_next_fire_time(None, low)
    return fire if fire is not None and fire <= now else None


async def schedule(context: JobContext, timestamp: int) -> None:
    """Defer the nightly run and the daily pass once per fire time of their cron lines."""
    w = _current()
    monitor = w.config.monitor
    now = utcnow()
    grace = timedelta(seconds=monitor.misfire_grace_seconds)
    for periodic_id, task, setting in SCHEDULE:
        fire = last_fire(getattr(monitor, setting), monitor.timezone, now=now, grace=grace)
        if fire is None:
            continue
        at = int(fire.timestamp())
        deferrer = context.app.configure_task(task, task_kwargs={"timestamp": at})
        job_id = await context.app.job_manager.defer_periodic_job(
            deferrer.job, periodic_id=periodic_id, defer_timestamp=at
        )
        if job_id is not None:
            log.info("%s of %s deferred as job %s", periodic_id, fire.isoformat(), job_id)


async def sweep(context: JobContext, timestamp: int) -> None:
    """Retry the jobs of workers that stopped beating, take back expired leases, and cover
    every queued job that no Procrastinate job will run."""
    w = _current()
    app = context.app
    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=w.config.workers.stalled_seconds
    )
    for job in stalled:
        log.warning("job %s (%s) of a stalled worker: retried", job.id, job.task_name)
        await app.job_manager.retry_job(job)
    # The schedule and the sweep leave two succeeded jobs a period: keep three days of them.
    await app.job_manager.delete_old_jobs(nb_hours=KEEP_FINISHED_HOURS)
    now = utcnow()
    with transaction(w.sessions) as session:
        session.execute(delete(WorkerBeat).where(
            WorkerBeat.heartbeat_at < now - timedelta(hours=KEEP_FINISHED_HOURS)))
        for run_id in queue.runs_held(session, expired_at=now):
            stop_run(session, run_id, now=now, reason=EXPIRED_REASON)
        queue.requeue_expired(session, now=now)
        nightly_ids, rechecks = uncovered(session, older_than=now - timedelta(seconds=10))
    if nightly_ids:
        log.warning("%d queued nightly job(s) had no worker job: deferred", len(nightly_ids))
        await defer_nightly_async(app, nightly_ids, w.config.monitor.sites_per_process)
    for job_id, site_id in rechecks:
        await defer_recheck_async(app, job_id, site_id)


def uncovered(
    session: Session, *, older_than: datetime
) -> tuple[list[int], list[tuple[int, int]]]:
    """Queued jobs that no waiting or running Procrastinate job names: nightly job ids, and
    rechecks as (job id, site id)."""
    covered: set[int] = set()
    for task, args in session.execute(
        text(
            "SELECT task_name, args FROM procrastinate_jobs "
            "WHERE status IN ('todo', 'doing') AND task_name IN (:sites, :site)"
        ),
        {"sites": TASK_SITES, "site": TASK_SITE},
    ):
        covered.update(_named_jobs(task, args))
    nightly_ids: list[int] = []
    rechecks: list[tuple[int, int]] = []
    for job_id, site_id, kind in session.execute(
        text(
            "SELECT id, site_id, kind FROM crawl_jobs WHERE state = :queued "
            "AND enqueued_at < :older_than ORDER BY priority, id"
        ),
        {"queued": JobState.QUEUED.value, "older_than": older_than},
    ):
        if job_id in covered:
            continue
        if kind == "recheck":
            rechecks.append((job_id, site_id))
        else:
            nightly_ids.append(job_id)
    return nightly_ids, rechecks


def _named_jobs(task: str, args: dict[str, Any]) -> Iterable[int]:
    if task == TASK_SITES:
        return [int(i) for i in args.get("job_ids", [])]
    return [int(args["job_id"])] if "job_id" in args else []

