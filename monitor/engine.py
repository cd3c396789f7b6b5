"""Who runs the crawl work, behind one small interface the CLI, the web and the monitor call.

Two engines share the ``crawl_jobs`` table (``store/queue.py``), the record of the work and of
which attempt owns it:

- SQLite: the monitor's own ``Dispatcher`` on one machine (``monitor/dispatch.py``); the
  monitor's APScheduler fires the schedule.
- PostgreSQL: Procrastinate jobs run by ``badgewatch worker`` processes on any number of
  machines (``monitor/workers.py``); a Procrastinate periodic task fires the schedule.

Callers never ask which one runs: they queue nightly work, queue a recheck, ask whether
something is running the queue (else a recheck is run where it was asked) and what it is doing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from badgewatch import localtime
from badgewatch.config import Config
from monitor.watchdog import live_monitor
from store import queue
from store.db import transaction
from store.models import CrawlRun

DISPATCHER = "dispatcher"
RECENT_RUNS = 10  # runs whose throughput the status shows
RECENT_NIGHTS = 7  # nights whose throughput the status shows
NIGHT_STARTS = timedelta(hours=12)  # a night's runs start after noon, or before the next noon
PROCRASTINATE = "procrastinate"


@dataclass(frozen=True)
class WorkerInfo:
    """A process that runs crawl work: the monitor (SQLite) or a Procrastinate worker."""

    name: str
    heartbeat_at: datetime | None
    jobs: tuple[str, ...] = ()  # what it runs now, as people read it

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "heartbeat_at": self.heartbeat_at.isoformat() if self.heartbeat_at else None,
            "jobs": list(self.jobs),
        }


@dataclass(frozen=True)
class RunRate:
    """A crawl run that ended, and how fast it went."""

    run_id: int
    trigger: str
    state: str
    sites: int
    pages: int
    seconds: float

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "trigger": self.trigger, "state": self.state,
                "sites": self.sites, "pages": self.pages, "seconds": round(self.seconds, 1),
                "pages_per_second": round(self.pages_per_second, 2)}


def recent_runs(session: Session, *, limit: int = RECENT_RUNS) -> tuple[RunRate, ...]:
    """The last runs that ended, newest first, whichever engine ran them."""
    runs = session.scalars(
        select(CrawlRun)
        .where(CrawlRun.finished_at.is_not(None))
        .order_by(CrawlRun.finished_at.desc(), CrawlRun.id.desc())
        .limit(limit)
    )
    return tuple(
        RunRate(run.id, run.trigger, run.state.value, run.sites, run.pages,
                (run.finished_at - run.started_at).total_seconds())
        for run in runs
        if run.finished_at is not None
    )


@dataclass(frozen=True)
class NightRate:
    """A night's nightly work, however many runs (crawl processes, workers) it took: from the
    first run's start to the last one's end."""

    night: date  # the calendar day (Beijing time) the night began on
    runs: int
    sites: int
    pages: int
    started_at: datetime
    finished_at: datetime | None  # None while a run of the night is still going

    @property
    def seconds(self) -> float:
        return ((self.finished_at - self.started_at).total_seconds()
                if self.finished_at is not None else 0.0)

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"night": self.night.isoformat(), "runs": self.runs, "sites": self.sites,
                "pages": self.pages, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "seconds": round(self.seconds, 1),
                "pages_per_second": round(self.pages_per_second, 2)}


def recent_nights(
    session: Session, *, config: Config, nights: int = RECENT_NIGHTS
) -> tuple[NightRate, ...]:
    """The last nights' nightly work, newest first: runs started between noon of a day and noon
    of the next (local time) make that day's night."""
    zone = config.calendar.zone
    newest = session.scalar(
        select(CrawlRun.started_at).where(CrawlRun.trigger == "nightly")
        .order_by(CrawlRun.started_at.desc()).limit(1)
    )
    if newest is None:
        return ()
    since = newest - timedelta(days=nights + 1)
    grouped: dict[date, list[CrawlRun]] = {}
    for run in session.scalars(
        select(CrawlRun).where(CrawlRun.trigger == "nightly", CrawlRun.started_at >= since)
    ):
        night = (localtime.local(run.started_at, zone) - NIGHT_STARTS).date()
        grouped.setdefault(night, []).append(run)
    rates = []
    for night in sorted(grouped, reverse=True)[:nights]:
        runs = grouped[night]
        ended = [run.finished_at for run in runs]
        rates.append(NightRate(
            night, len(runs), sum(run.sites for run in runs), sum(run.pages for run in runs),
            min(run.started_at for run in runs),
            None if any(at is None for at in ended) else max(at for at in ended if at),
        ))
    return tuple(rates)


@dataclass(frozen=True)
class EngineStatus:
    """What ``badgewatch monitor status`` shows of the engine, the same on both."""

    engine: str
    workers: tuple[WorkerInfo, ...]
    running: tuple[queue.RunningJob, ...]
    queued_by_kind: dict[str, int]
    engine_jobs: dict[str, int] = field(default_factory=dict)  # Procrastinate's, by status
    recent_runs: tuple[RunRate, ...] = ()
    recent_nights: tuple[NightRate, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "workers": [w.to_json() for w in self.workers],
            "running": [
                {
                    "job": r.job_id, "site_id": r.site_id, "kind": r.kind, "worker": r.worker,
                    "attempt": r.attempt,
                    "started_at": r.started_at.isoformat() if r.started_at else None,
                }
                for r in self.running
            ],
            "queued_by_kind": dict(self.queued_by_kind),
            "engine_jobs": dict(self.engine_jobs),
            "recent_runs": [r.to_json() for r in self.recent_runs],
            "recent_nights": [n.to_json() for n in self.recent_nights],
        }


class Engine(Protocol):
    name: str

    def enqueue_nightly(self, *, now: datetime) -> int:
        """Queue the nightly crawl of every monitored site; how many sites were queued."""

    def recheck(
        self, site_id: int, *, url: str | None, render: bool, now: datetime
    ) -> queue.Enqueued:
        """Queue a recheck of a site (or of one page), ahead of nightly work."""

    def available(self, session: Session, *, now: datetime) -> bool:
        """Whether something is running the queue now (else a recheck is run by its caller)."""

    def status(self, session: Session, *, now: datetime) -> EngineStatus:
        """The workers, the running jobs and the queue by kind."""

    def close(self) -> None:
        """Release what the engine holds (connections)."""


def uses_workers(config: Config) -> bool:
    """PostgreSQL runs the crawl work on Procrastinate workers; SQLite in the monitor."""
    return config.database.url.startswith("postgresql")


def engine_for(config: Config, sessions: sessionmaker[Session]) -> Engine:
    if uses_workers(config):
        from monitor.workers import ProcrastinateEngine  # noqa: PLC0415 - PostgreSQL only

        return ProcrastinateEngine(config, sessions)
    return DispatcherEngine(config, sessions)


def engine_status(session: Session, *, now: datetime, config: Config) -> EngineStatus:
    """The engine's status from a session alone (``monitor status`` and the watchdog)."""
    if uses_workers(config):
        from monitor.workers import worker_status  # noqa: PLC0415 - PostgreSQL only

        return worker_status(session, now=now, config=config)
    return dispatcher_status(session, now=now, config=config)


@dataclass
class DispatcherEngine:
    """SQLite: the queue is run by the monitor's dispatcher (or by the caller, without one)."""

    config: Config
    sessions: sessionmaker[Session]
    name: str = DISPATCHER

    def enqueue_nightly(self, *, now: datetime) -> int:
        with transaction(self.sessions) as session:
            return queue.enqueue_nightly(session, now=now)

    def recheck(
        self, site_id: int, *, url: str | None, render: bool, now: datetime
    ) -> queue.Enqueued:
        with transaction(self.sessions) as session:
            return queue.enqueue(session, site_id, kind="recheck", now=now, url=url, render=render)

    def available(self, session: Session, *, now: datetime) -> bool:
        return live_monitor(session, now=now, tick=self.config.monitor.tick_seconds) is not None

    def status(self, session: Session, *, now: datetime) -> EngineStatus:
        return dispatcher_status(session, now=now, config=self.config)

    def close(self) -> None:
        return None


def dispatcher_status(session: Session, *, now: datetime, config: Config) -> EngineStatus:
    beat = live_monitor(session, now=now, tick=config.monitor.tick_seconds)
    stats = queue.stats(session, now=now)
    workers: tuple[WorkerInfo, ...] = ()
    if beat is not None:
        runs = tuple(
            f"第 {r['run_id']} 次检查，网站 {r['sites']}" for r in beat.info.get("running", [])
        )
        workers = (WorkerInfo(f"监测服务 {beat.id}（{beat.host}，进程 {beat.pid}）",
                              beat.heartbeat_at, runs),)
    return EngineStatus(DISPATCHER, workers, stats.running_jobs, stats.queued_by_kind,
                        recent_runs=recent_runs(session),
                        recent_nights=recent_nights(session, config=config))
