"""The one queue for all crawl work: nightly runs and on-demand rechecks, rows in ``crawl_jobs``.

A site has at most one active (queued or running) job; the partial unique index
``uq_crawl_jobs_active_site`` guarantees it and ``enqueue`` turns a lost insert race into a
merge (INSERT ... ON CONFLICT DO NOTHING). Work is claimed in (priority, id) order, so a
recheck (priority 0) runs before nightly work (priority 10) that was queued earlier.

Every claim is one attempt with a fresh random ``owner`` token and a lease. The dispatcher
renews the leases of the work it is running; a job whose lease ran out (its dispatcher
died) is put back in the queue, and once ``max_attempts`` are spent it is marked FAILED.
Only the attempt that still owns a running job may complete it, so a crawl that outlives
its dispatcher can never overwrite the results of a newer attempt.

Race-freedom is ``store/lease.py``'s, shared with ``notify/outbox.py``: PostgreSQL claims
with ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite reads candidates and then wins each with
an UPDATE conditional on what was read, which only one writer can win. Every other change
is a single UPDATE conditional on the job's state (and owner), so two writers never both
succeed.

Statements go straight to the database: CrawlJob objects already loaded in the caller's
session are not refreshed (select them again with ``populate_existing`` to see changes).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, Select, case, func, literal, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from store.db import dialect_insert, is_postgres, transaction
from store.lease import claim_due, update_if
from store.models import CrawlJob, JobState, Site, UTCDateTime

logger = logging.getLogger(__name__)

Kind = Literal["nightly", "recheck"]

PRIORITY_RECHECK: Final = 0
PRIORITY_NIGHTLY: Final = 10
DEFAULT_MAX_ATTEMPTS: Final = 3
"""Claims a job may get; when the last one is lost as well, the job is marked FAILED."""

_PRIORITY: Final[dict[str, int]] = {"nightly": PRIORITY_NIGHTLY, "recheck": PRIORITY_RECHECK}
_ACTIVE: Final = (JobState.QUEUED, JobState.RUNNING)
# The predicate of uq_crawl_jobs_active_site, so ON CONFLICT can name that partial index.
_ACTIVE_WHERE: Final = text("state IN ('queued', 'running')")
_ENQUEUE_TRIES: Final = 5  # each lost race means another writer made progress
_ERROR_CHARS: Final = 2000
_WORKER_CHARS: Final = 120  # the width of crawl_jobs.worker
_OWNER_PREFIX_CHARS: Final = 64 - 32  # crawl_jobs.owner is 64 wide; the token takes 32


class QueueError(RuntimeError):
    """The queue could not settle a request (a site's job kept changing under ``enqueue``)."""


@dataclass(frozen=True)
class Enqueued:
    """What ``enqueue`` did: a new job, or the site's active job that the request joined.

    ``upgraded``: a queued nightly job became a recheck. ``state`` is the job's state when
    the request joined it: RUNNING means the crawl already started before the request.
    """

    job_id: int
    created: bool
    merged: bool
    upgraded: bool
    state: JobState


@dataclass(frozen=True)
class Claim:
    """One attempt at a job, a snapshot the dispatcher hands to a crawl process."""

    job_id: int
    site_id: int
    owner: str
    url: str | None
    render: bool
    kind: Kind
    attempt: int  # 1 for the first claim of the job


@dataclass(frozen=True)
class RunningJob:
    job_id: int
    site_id: int
    kind: Kind
    worker: str | None
    started_at: datetime | None
    lease_until: datetime | None
    attempt: int


@dataclass(frozen=True)
class QueueStats:
    """The queue at ``now``, for ``monitor status`` and the watchdog."""

    queued: int
    running: int
    oldest_queued_at: datetime | None
    oldest_wait: timedelta | None  # how long the oldest queued job has waited at ``now``
    expired: int  # running jobs whose lease ran out: their dispatcher is gone
    running_jobs: tuple[RunningJob, ...]
    queued_by_kind: dict[str, int] = field(default_factory=dict)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def _require_lease(lease: timedelta) -> None:
    if lease <= timedelta(0):
        raise ValueError("lease must be positive")


def _kind(value: str) -> Kind:
    if value == "nightly":
        return "nightly"
    if value == "recheck":
        return "recheck"
    raise ValueError(f"kind must be 'nightly' or 'recheck', not {value!r}")


# --- enqueue --------------------------------------------------------------------------------


def enqueue(
    session: Session,
    site_id: int,
    *,
    kind: Kind,
    now: datetime,
    url: str | None = None,
    render: bool = False,
) -> Enqueued:
    """Queue work for a site unless it already has an active job; the caller commits.

    A recheck joining a queued nightly job upgrades it (recheck priority, the recheck's
    ``url`` and ``render``) so it jumps ahead; two queued rechecks of different pages become
    one of the whole site, rendered if either asked. A request for a site whose job is
    already RUNNING joins that job (``state`` RUNNING): its crawl may have read pages from
    before the request, so a caller that needs a verdict from after it (``recheck --wait``)
    waits for that job to end and then enqueues again.
    """
    _require_aware(now)
    kind = _kind(kind)
    if kind == "nightly" and (url is not None or render):
        raise ValueError("url and render belong to a recheck; a nightly job checks the site")
    for _ in range(_ENQUEUE_TRIES):
        active = session.execute(
            select(CrawlJob.id, CrawlJob.state).where(
                CrawlJob.site_id == site_id, CrawlJob.state.in_(_ACTIVE)
            )
        ).first()
        if active is None:
            new_id = _insert(session, site_id, kind=kind, now=now, url=url, render=render)
            if new_id is not None:
                return Enqueued(new_id, True, False, False, JobState.QUEUED)
            continue  # another transaction queued the site first: join its job
        job_id, state = active
        if kind == "recheck" and state == JobState.QUEUED:
            merged = _merge_recheck(session, job_id, url=url, render=render)
            if merged is None:
                continue  # claimed in the meantime: look again
            return Enqueued(job_id, False, True, merged, JobState.QUEUED)
        return Enqueued(job_id, False, True, False, state)
    raise QueueError(f"site {site_id}: its job kept changing; gave up after {_ENQUEUE_TRIES} tries")


def _insert(
    session: Session, site_id: int, *, kind: Kind, now: datetime, url: str | None, render: bool
) -> int | None:
    """Insert a QUEUED job; None when the site already has an active one (no error raised)."""
    values: dict[str, Any] = {
        "site_id": site_id,
        "kind": kind,
        "priority": _PRIORITY[kind],
        "url": url,
        "render": render,
        "state": JobState.QUEUED,
        "attempts": 0,
        "enqueued_at": now,
    }
    new = (
        dialect_insert(session, CrawlJob)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["site_id"], index_where=_ACTIVE_WHERE)
        .returning(CrawlJob.id)
    )
    new_id: int | None = session.execute(new).scalar_one_or_none()
    return new_id


def _merge_recheck(session: Session, job_id: int, *, url: str | None, render: bool) -> bool | None:
    """Fold a recheck into a queued job: True if it upgraded a nightly job, False if it
    joined a queued recheck, None if the job is no longer queued."""
    queued = (CrawlJob.id == job_id, CrawlJob.state == JobState.QUEUED)
    upgraded = update_if(
        session,
        CrawlJob.id,
        *queued,
        CrawlJob.kind == "nightly",
        kind="recheck",
        priority=PRIORITY_RECHECK,
        url=url,
        render=render,
    )
    if upgraded is not None:
        return True
    # Another page of the same site, or the whole site: the merged job checks the whole site.
    same_page = case((CrawlJob.url == url, CrawlJob.url), else_=None) if url else None
    joined = update_if(
        session,
        CrawlJob.id,
        *queued,
        CrawlJob.kind == "recheck",
        url=same_page,
        render=or_(CrawlJob.render, literal(render)),
    )
    return None if joined is None else False


def enqueue_nightly(session: Session, *, now: datetime) -> int:
    """Queue a nightly job for every monitored site without an active job; how many were queued."""
    return len(enqueue_nightly_jobs(session, now=now))


def enqueue_nightly_jobs(session: Session, *, now: datetime) -> list[int]:
    """Queue a nightly job for every monitored site without an active job; the new jobs' ids,
    in site order.

    One INSERT ... SELECT ... ON CONFLICT DO NOTHING, so a site queued by a concurrent
    recheck is skipped rather than failing the whole run.
    """
    _require_aware(now)
    has_active = (
        select(CrawlJob.id).where(CrawlJob.site_id == Site.id, CrawlJob.state.in_(_ACTIVE)).exists()
    )
    sites = (
        select(
            Site.id,
            literal("nightly"),
            literal(PRIORITY_NIGHTLY),
            literal(False),
            literal(JobState.QUEUED.value),
            literal(0),
            literal(now, UTCDateTime()),
        )
        .where(Site.monitored.is_(True), ~has_active)
        .order_by(Site.id)
    )
    columns = ["site_id", "kind", "priority", "render", "state", "attempts", "enqueued_at"]
    new = (
        dialect_insert(session, CrawlJob)
        .from_select(columns, sites)
        .on_conflict_do_nothing(index_elements=["site_id"], index_where=_ACTIVE_WHERE)
        .returning(CrawlJob.id)
    )
    return sorted(session.scalars(new).all())


# --- claim and lease ------------------------------------------------------------------------


def _queued(kinds: Collection[Kind] | None, limit: int) -> Select[CrawlJob]:
    query = (
        select(CrawlJob)
        .where(CrawlJob.state == JobState.QUEUED)
        .order_by(CrawlJob.priority, CrawlJob.id)
    )
    if kinds is not None:
        query = query.where(CrawlJob.kind.in_(sorted(kinds)))
    return query.limit(limit)


def claim(
    factory: sessionmaker[Session],
    *,
    worker: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    kinds: Collection[str] | None = None,
) -> list[Claim]:
    """Take up to ``limit`` queued jobs in (priority, id) order, each as a new owned attempt.

    ``kinds`` restricts the claim (a lane kept free for rechecks takes only ``("recheck",)``).
    Opens its own short transactions; safe with several dispatchers (threads or processes)
    claiming at the same time on either backend: no job is handed out twice.
    """
    _require_aware(now)
    _require_lease(lease)
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if not worker or len(worker) > _WORKER_CHARS:
        raise ValueError(f"worker must be 1 to {_WORKER_CHARS} characters")
    only = None if kinds is None else {_kind(k) for k in kinds}

    def take(session: Session, job: CrawlJob) -> Claim | None:
        return _take(session, job, worker=worker, now=now, lease=lease)

    return claim_due(factory, lambda n: _queued(only, n), take, limit=limit)


def _take(
    session: Session,
    job: CrawlJob,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    owner_prefix: str = "",
) -> Claim | None:
    """Start an attempt on a job still queued as it was read; None if someone was faster."""
    owner = owner_prefix + secrets.token_hex(16)
    won = update_if(
        session,
        CrawlJob.id,
        CrawlJob.id == job.id,
        CrawlJob.state == JobState.QUEUED,
        CrawlJob.attempts == job.attempts,
        state=JobState.RUNNING,
        owner=owner,
        attempts=job.attempts + 1,
        worker=worker,
        started_at=now,
        lease_until=now + lease,
        finished_at=None,
    )
    if won is None:
        return None
    return Claim(
        job.id, job.site_id, owner, job.url, job.render, _kind(job.kind), job.attempts + 1
    )


def claim_jobs(
    factory: sessionmaker[Session],
    job_ids: Collection[int],
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    owner_prefix: str,
) -> list[Claim]:
    """Take these jobs, those still queued, each as a new owned attempt whose owner token
    starts with ``owner_prefix`` (an engine's job and attempt, so the attempts of one engine
    job can be taken back together: ``take_back_prefixed``). Jobs already running, finished
    or gone are skipped: another attempt has them, or had them."""
    _require_aware(now)
    _require_lease(lease)
    if not worker or len(worker) > _WORKER_CHARS:
        raise ValueError(f"worker must be 1 to {_WORKER_CHARS} characters")
    if len(owner_prefix) > _OWNER_PREFIX_CHARS:
        raise ValueError(f"owner_prefix must be at most {_OWNER_PREFIX_CHARS} characters")
    ids = sorted(set(job_ids))
    if not ids:
        return []

    def due(n: int) -> Select[CrawlJob]:
        return (
            select(CrawlJob)
            .where(CrawlJob.id.in_(ids), CrawlJob.state == JobState.QUEUED)
            .order_by(CrawlJob.priority, CrawlJob.id)
            .limit(n)
        )

    def take(session: Session, job: CrawlJob) -> Claim | None:
        return _take(session, job, worker=worker, now=now, lease=lease, owner_prefix=owner_prefix)

    return claim_due(factory, due, take, limit=len(ids))


def renew(
    target: Session | sessionmaker[Session],
    owners: Iterable[str],
    *,
    now: datetime,
    lease: timedelta,
) -> frozenset[str]:
    """Extend the leases of running jobs these tokens still own; returns the tokens renewed.

    A token missing from the result lost its job (requeued after its lease ran out): the
    dispatcher should stop that crawl, whose results ``complete`` would refuse anyway.
    Given a sessionmaker, renews in a transaction of its own.
    """
    _require_aware(now)
    _require_lease(lease)
    tokens = sorted(set(owners))
    if not tokens:
        return frozenset()
    statement = (
        update(CrawlJob)
        .where(CrawlJob.owner.in_(tokens), CrawlJob.state == JobState.RUNNING)
        .values(lease_until=now + lease)
        .returning(CrawlJob.owner)
        .execution_options(synchronize_session=False)
    )
    if isinstance(target, Session):
        renewed = target.scalars(statement).all()
    else:
        with transaction(target) as session:
            renewed = session.scalars(statement).all()
    return frozenset(token for token in renewed if token is not None)


def attach_run(session: Session, owners: Iterable[str], run_id: int) -> int:
    """Record the crawl run working on these attempts (for reports); how many jobs were marked."""
    tokens = sorted(set(owners))
    if not tokens:
        return 0
    marked = session.scalars(
        update(CrawlJob)
        .where(CrawlJob.owner.in_(tokens), CrawlJob.state == JobState.RUNNING)
        .values(run_id=run_id)
        .returning(CrawlJob.id)
        .execution_options(synchronize_session=False)
    ).all()
    return len(marked)


# --- ownership and completion ---------------------------------------------------------------


def _owned(job_id: int, owner: str) -> tuple[ColumnElement[bool], ...]:
    return (
        CrawlJob.id == job_id,
        CrawlJob.owner == owner,
        CrawlJob.state == JobState.RUNNING,
    )


def owns(session: Session, job_id: int, owner: str) -> bool:
    """Whether ``owner`` still holds the running job; holds it until the caller's transaction ends.

    PostgreSQL locks the row (SELECT ... FOR UPDATE), so a requeue waits for the caller's
    commit. SQLite has no row locks: a no-op UPDATE takes the database's write lock for the
    same effect, so call this just before writing, not as a long-held read.
    """
    if not owner:
        return False
    if is_postgres(session):
        locked = session.execute(
            select(CrawlJob.id).where(*_owned(job_id, owner)).with_for_update()
        ).scalar_one_or_none()
        return locked is not None
    return update_if(session, CrawlJob.id, *_owned(job_id, owner), owner=CrawlJob.owner) is not None


def complete(
    session: Session,
    job_id: int,
    owner: str,
    *,
    now: datetime,
    run_id: int | None = None,
    error: str | None = None,
) -> bool:
    """Finish the attempt ``owner`` holds: DONE, or FAILED with ``error``; the caller commits.

    False when the job is no longer running under this owner (requeued, taken over or
    already finished): the caller must then roll back and publish nothing. Call it in the
    transaction that writes the site's results, so both commit or neither does.
    """
    _require_aware(now)
    if not owns(session, job_id, owner):
        return False
    values: dict[str, Any] = {
        "state": JobState.DONE if error is None else JobState.FAILED,
        "finished_at": now,
        "lease_until": None,
        "error": None if error is None else error[:_ERROR_CHARS],
    }
    if run_id is not None:
        values["run_id"] = run_id
    return update_if(session, CrawlJob.id, *_owned(job_id, owner), **values) is not None


# --- taking work back -----------------------------------------------------------------------


def requeue(
    session: Session,
    jobs: Iterable[int | str],
    *,
    now: datetime,
    reason: str,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Put running jobs (by id, or by owner token) back in the queue; the caller commits.

    Attempts are kept, so a job that keeps killing its crawl ends FAILED after
    ``max_attempts`` rather than looping. Jobs not running (already completed, say) are
    left alone. Returns how many were taken back, requeued or FAILED.
    """
    _require_aware(now)
    items = list(jobs)
    ids = [j for j in items if isinstance(j, int) and not isinstance(j, bool)]
    tokens = [j for j in items if isinstance(j, str)]
    if len(ids) + len(tokens) != len(items):
        raise TypeError("requeue takes job ids (int) or owner tokens (str)")
    if not items:
        return 0
    return _take_back(
        session,
        or_(CrawlJob.id.in_(ids), CrawlJob.owner.in_(tokens)),
        now=now,
        reason=reason,
        max_attempts=max_attempts,
    )


def runs_held(
    session: Session, *, owner_prefix: str | None = None, expired_at: datetime | None = None
) -> list[int]:
    """The crawl runs (``attach_run``) working on running jobs whose owner token starts with
    ``owner_prefix``, or whose lease ran out before ``expired_at``: the runs of attempts
    about to be taken back, so that a crawl that died too early to record its end is recorded."""
    if not owner_prefix and expired_at is None:
        raise ValueError("give owner_prefix or expired_at")
    which: list[ColumnElement[bool]] = [
        CrawlJob.state == JobState.RUNNING, CrawlJob.run_id.is_not(None)
    ]
    if owner_prefix:
        which.append(CrawlJob.owner.startswith(owner_prefix, autoescape=True))
    if expired_at is not None:
        _require_aware(expired_at)
        which.append(CrawlJob.lease_until < expired_at)
    runs = session.scalars(select(CrawlJob.run_id).where(*which).distinct()).all()
    return sorted(run for run in runs if run is not None)


def take_back_prefixed(
    session: Session,
    owner_prefix: str,
    *,
    now: datetime,
    reason: str,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Put back the running jobs whose owner token starts with ``owner_prefix``: the attempts
    of an engine job that is being run again because its worker died. Their crawl, if it
    still runs somewhere, can no longer complete them."""
    _require_aware(now)
    if not owner_prefix:
        raise ValueError("owner_prefix must not be empty")
    return _take_back(
        session,
        CrawlJob.owner.startswith(owner_prefix, autoescape=True),
        now=now,
        reason=reason,
        max_attempts=max_attempts,
    )


def requeue_expired(
    session: Session, *, now: datetime, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> int:
    """Take back running jobs whose lease ran out before ``now`` (their dispatcher died).

    Returns how many were taken back, requeued or (out of attempts) FAILED.
    """
    _require_aware(now)
    reason = f"lease expired before {now.isoformat()}: the dispatcher stopped renewing it"
    return _take_back(
        session, CrawlJob.lease_until < now, now=now, reason=reason, max_attempts=max_attempts
    )


def _take_back(
    session: Session,
    which: ColumnElement[bool],
    *,
    now: datetime,
    reason: str,
    max_attempts: int,
) -> int:
    """Two conditional UPDATEs; attempts only change on claim, so no job can be in both."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    spent = f"{reason} (gave up: {max_attempts} attempts spent)"
    failed: Sequence[int] = session.scalars(
        update(CrawlJob)
        .where(CrawlJob.state == JobState.RUNNING, which, CrawlJob.attempts >= max_attempts)
        .values(
            state=JobState.FAILED, finished_at=now, lease_until=None, error=spent[:_ERROR_CHARS]
        )
        .returning(CrawlJob.id)
        .execution_options(synchronize_session=False)
    ).all()
    requeued: Sequence[int] = session.scalars(
        update(CrawlJob)
        .where(CrawlJob.state == JobState.RUNNING, which)
        .values(
            state=JobState.QUEUED,
            owner=None,
            lease_until=None,
            worker=None,
            started_at=None,
            error=reason[:_ERROR_CHARS],
        )
        .returning(CrawlJob.id)
        .execution_options(synchronize_session=False)
    ).all()
    if failed:
        logger.warning("queue: gave up on job(s) %s: %s", sorted(failed), spent)
    return len(requeued) + len(failed)


# --- stats ----------------------------------------------------------------------------------


def stats(session: Session, *, now: datetime) -> QueueStats:
    """Queue length, the oldest waiting job and the running work, as seen at ``now``."""
    _require_aware(now)
    queued, oldest = session.execute(
        select(func.count(CrawlJob.id), func.min(CrawlJob.enqueued_at)).where(
            CrawlJob.state == JobState.QUEUED
        )
    ).one()
    running = tuple(
        RunningJob(job_id, site_id, _kind(kind), worker, started_at, lease_until, attempts)
        for job_id, site_id, kind, worker, started_at, lease_until, attempts in session.execute(
            select(
                CrawlJob.id,
                CrawlJob.site_id,
                CrawlJob.kind,
                CrawlJob.worker,
                CrawlJob.started_at,
                CrawlJob.lease_until,
                CrawlJob.attempts,
            )
            .where(CrawlJob.state == JobState.RUNNING)
            .order_by(CrawlJob.started_at, CrawlJob.id)
        )
    )
    expired = sum(1 for job in running if job.lease_until is not None and job.lease_until < now)
    by_kind = {
        str(kind): int(count)
        for kind, count in session.execute(
            select(CrawlJob.kind, func.count(CrawlJob.id))
            .where(CrawlJob.state == JobState.QUEUED)
            .group_by(CrawlJob.kind)
        )
    }
    return QueueStats(
        queued=int(queued),
        running=len(running),
        oldest_queued_at=oldest,
        oldest_wait=None if oldest is None else now - oldest,
        expired=expired,
        running_jobs=running,
        queued_by_kind=by_kind,
    )
