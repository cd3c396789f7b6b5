"""The crawl queue on real databases (SQLite and PostgreSQL): one job per site, rechecks first,
claims that never overlap, leases, and only the owning attempt may complete a job."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.models import CrawlJob, CrawlRun, JobState, RunState, Site, SiteSource, Unit
from store.queue import (
    PRIORITY_NIGHTLY,
    PRIORITY_RECHECK,
    Claim,
    Enqueued,
    QueueError,
    attach_run,
    claim,
    claim_jobs,
    complete,
    enqueue,
    enqueue_nightly,
    owns,
    renew,
    requeue,
    requeue_expired,
    runs_held,
    stats,
    take_back_prefixed,
)
from tests.factories import (
    add_offices,
    statements_in_flight,
    wait_for,
    waiting_in_database,
)

NOW = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


def _sites(sessions: sessionmaker[Session], count: int, *, unmonitored: int = 0) -> list[int]:
    """``count`` monitored sites, then ``unmonitored`` more; their ids in that order."""
    with transaction(sessions) as session:
        office = add_offices(session)["330100"]
        unit = Unit(name="杭州市数据资源管理局", office=office)
        sites = [
            Site(
                unit=unit,
                office=office,
                name=f"网站{i}",
                domain=f"site{i}.example.cn",
                ipv4="127.0.0.1",
                identifier=f"3301000{i:03d}",
                source=SiteSource.IMPORTED,
                monitored=i < count,
                created_at=NOW,
            )
            for i in range(count + unmonitored)
        ]
        session.add_all(sites)
        session.flush()
        return [site.id for site in sites]


def _enqueue(sessions: sessionmaker[Session], site_id: int, kind: str, **kw) -> Enqueued:
    with transaction(sessions) as session:
        return enqueue(session, site_id, kind=kind, now=kw.pop("now", NOW), **kw)  # type: ignore[arg-type]


def _claim(sessions: sessionmaker[Session], limit: int = 10, **kw) -> list[Claim]:
    return claim(
        sessions,
        worker=kw.pop("worker", "dispatcher-1"),
        limit=limit,
        now=kw.pop("now", NOW),
        lease=kw.pop("lease", LEASE),
    )


def _engine(sessions: sessionmaker[Session]) -> sa.Engine:
    engine: sa.Engine = sessions.kw["bind"]
    return engine


def _jobs(sessions: sessionmaker[Session]) -> list[CrawlJob]:
    with sessions() as session:
        return list(session.scalars(sa.select(CrawlJob).order_by(CrawlJob.id)))


def _job(sessions: sessionmaker[Session], job_id: int) -> CrawlJob:
    with sessions() as session:
        job = session.get(CrawlJob, job_id)
        assert job is not None
        return job


# --- enqueue --------------------------------------------------------------------------------


def test_a_site_is_never_queued_twice(sessions: sessionmaker[Session]) -> None:
    [site] = _sites(sessions, 1)

    first = _enqueue(sessions, site, "nightly")
    again = _enqueue(sessions, site, "nightly")
    recheck = _enqueue(sessions, site, "recheck")

    assert (first.created, first.merged) == (True, False)
    assert (again.created, again.merged, again.job_id) == (False, True, first.job_id)
    assert (recheck.created, recheck.merged, recheck.job_id) == (False, True, first.job_id)
    assert len(_jobs(sessions)) == 1

    # Running is active too; only a finished job lets the site be queued again.
    [job] = _claim(sessions)
    running = _enqueue(sessions, site, "recheck", url="http://site0.example.cn/a")
    assert (running.merged, running.state, running.job_id) == (True, JobState.RUNNING, job.job_id)
    with transaction(sessions) as session:
        assert complete(session, job.job_id, job.owner, now=NOW)
    after = _enqueue(sessions, site, "recheck")
    assert after.created and after.job_id != first.job_id
    assert [j.state for j in _jobs(sessions)] == [JobState.DONE, JobState.QUEUED]


def test_a_concurrent_insert_for_the_same_site_ends_merged(
    sessions: sessionmaker[Session],
) -> None:
    """B looks while A's insert is uncommitted, so B's own insert hits the unique index."""
    [site] = _sites(sessions, 1)
    results: list[Enqueued] = []

    def other() -> None:
        results.append(_enqueue(sessions, site, "nightly"))

    thread = threading.Thread(target=other)
    with statements_in_flight(_engine(sessions)) as flying, sessions() as a, a.begin():
        mine = enqueue(a, site, kind="nightly", now=NOW)
        thread.start()
        wait_for(lambda: waiting_in_database(flying, thread), 10,
                 "B to wait for A's uncommitted insert")
    thread.join(timeout=30)

    assert mine.created
    [theirs] = results
    assert (theirs.created, theirs.merged, theirs.job_id) == (False, True, mine.job_id)
    assert len(_jobs(sessions)) == 1


def test_a_recheck_upgrades_a_queued_nightly_job(sessions: sessionmaker[Session]) -> None:
    a, b, c = _sites(sessions, 3)
    with transaction(sessions) as session:
        assert enqueue_nightly(session, now=NOW) == 3
    nightly_c = next(j for j in _jobs(sessions) if j.site_id == c)

    merged = _enqueue(
        sessions, c, "recheck", url="http://site2.example.cn/news", render=True, now=NOW
    )

    assert (merged.created, merged.merged, merged.upgraded) == (False, True, True)
    assert merged.job_id == nightly_c.id
    job = _job(sessions, nightly_c.id)
    assert (job.kind, job.priority, job.url, job.render) == (
        "recheck",
        PRIORITY_RECHECK,
        "http://site2.example.cn/news",
        True,
    )
    # It jumps ahead of the nightly work queued before it.
    [first] = _claim(sessions, limit=1)
    assert (first.site_id, first.kind, first.url, first.render) == (
        c,
        "recheck",
        "http://site2.example.cn/news",
        True,
    )
    assert [j.site_id for j in _claim(sessions)] == [a, b]


def test_rechecks_of_different_pages_merge_into_the_whole_site(
    sessions: sessionmaker[Session],
) -> None:
    [site] = _sites(sessions, 1)
    first = _enqueue(sessions, site, "recheck", url="http://site0.example.cn/a")
    same = _enqueue(sessions, site, "recheck", url="http://site0.example.cn/a", render=True)
    assert (same.merged, same.upgraded) == (True, False)
    job = _job(sessions, first.job_id)
    assert (job.url, job.render) == ("http://site0.example.cn/a", True)

    _enqueue(sessions, site, "recheck", url="http://site0.example.cn/b")
    job = _job(sessions, first.job_id)
    assert (job.url, job.render) == (None, True)  # render is kept once asked for

    _enqueue(sessions, site, "nightly")  # a nightly request never downgrades a recheck
    job = _job(sessions, first.job_id)
    assert (job.kind, job.priority) == ("recheck", PRIORITY_RECHECK)


def test_enqueue_refuses_nonsense(sessions: sessionmaker[Session]) -> None:
    [site] = _sites(sessions, 1)
    with transaction(sessions) as session:
        with pytest.raises(ValueError, match="kind"):
            enqueue(session, site, kind="weekly", now=NOW)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="aware"):
            enqueue(session, site, kind="recheck", now=NOW.replace(tzinfo=None))
        with pytest.raises(ValueError, match="recheck"):
            enqueue(session, site, kind="nightly", now=NOW, url="http://site0.example.cn/")
    assert issubclass(QueueError, RuntimeError)


def test_enqueue_nightly_skips_unmonitored_and_active_sites(
    sessions: sessionmaker[Session],
) -> None:
    free, queued, running, *unmonitored = _sites(sessions, 3, unmonitored=2)
    recheck = _enqueue(sessions, queued, "recheck")
    _enqueue(sessions, running, "nightly")
    [busy] = [c for c in _claim(sessions) if c.site_id == running]

    with transaction(sessions) as session:
        assert enqueue_nightly(session, now=NOW) == 1
    with transaction(sessions) as session:
        assert enqueue_nightly(session, now=NOW) == 0

    jobs = _jobs(sessions)
    assert sorted(j.site_id for j in jobs) == [free, queued, running]
    assert not {j.site_id for j in jobs} & set(unmonitored)
    by_site = {j.site_id: j for j in jobs}
    assert (by_site[free].kind, by_site[free].priority, by_site[free].state) == (
        "nightly",
        PRIORITY_NIGHTLY,
        JobState.QUEUED,
    )
    assert by_site[free].enqueued_at == NOW
    assert by_site[queued].id == recheck.job_id and by_site[queued].kind == "recheck"
    assert by_site[running].id == busy.job_id and by_site[running].state == JobState.RUNNING


# --- claim ----------------------------------------------------------------------------------


def test_claims_follow_priority_then_age(sessions: sessionmaker[Session]) -> None:
    a, b, c, d = _sites(sessions, 4)
    _enqueue(sessions, a, "nightly")
    _enqueue(sessions, b, "nightly")
    _enqueue(sessions, c, "recheck")
    _enqueue(sessions, d, "recheck")

    first = _claim(sessions, limit=3, worker="w1", now=NOW + timedelta(minutes=1))
    rest = _claim(sessions, limit=3, worker="w2")

    assert [(x.site_id, x.kind) for x in first] == [(c, "recheck"), (d, "recheck"), (a, "nightly")]
    assert [x.site_id for x in rest] == [b]
    assert _claim(sessions) == []
    assert all(x.attempt == 1 for x in first + rest)
    assert len({x.owner for x in first + rest}) == 4
    job = _job(sessions, first[0].job_id)
    assert (job.state, job.owner, job.worker, job.attempts) == (
        JobState.RUNNING,
        first[0].owner,
        "w1",
        1,
    )
    assert job.started_at == NOW + timedelta(minutes=1)
    assert job.lease_until == NOW + timedelta(minutes=1) + LEASE


def test_dispatchers_claiming_at_once_never_share_a_job(sessions: sessionmaker[Session]) -> None:
    site_ids = _sites(sessions, 40)
    with transaction(sessions) as session:
        assert enqueue_nightly(session, now=NOW) == 40
    workers = 4
    barrier = threading.Barrier(workers)
    taken: list[list[Claim]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def dispatcher(n: int) -> None:
        try:
            barrier.wait()
            while batch := _claim(sessions, limit=3, worker=f"w{n}"):
                taken[n].extend(batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    claims = [c for batch in taken for c in batch]
    assert sorted(c.site_id for c in claims) == site_ids
    assert len({c.job_id for c in claims}) == 40
    assert len({c.owner for c in claims}) == 40
    jobs = _jobs(sessions)
    assert {j.state for j in jobs} == {JobState.RUNNING}
    owner_of = {c.job_id: c.owner for c in claims}
    assert all(j.owner == owner_of[j.id] and j.attempts == 1 for j in jobs)


def test_a_recheck_lane_claims_only_rechecks(sessions: sessionmaker[Session]) -> None:
    a, b, c = _sites(sessions, 3)
    _enqueue(sessions, a, "nightly")
    _enqueue(sessions, b, "recheck")
    _enqueue(sessions, c, "recheck")

    lane = claim(sessions, worker="w", limit=5, now=NOW, lease=LEASE, kinds=("recheck",))
    assert [x.site_id for x in lane] == [b, c]
    assert claim(sessions, worker="w", limit=5, now=NOW, lease=LEASE, kinds=["recheck"]) == []
    assert [x.site_id for x in _claim(sessions)] == [a]


def test_a_run_is_attached_to_the_attempts_it_works_on(sessions: sessionmaker[Session]) -> None:
    a, b = _sites(sessions, 2)
    _enqueue(sessions, a, "nightly")
    _enqueue(sessions, b, "nightly")
    first, second = _claim(sessions)
    with transaction(sessions) as session:
        run = CrawlRun(trigger="nightly", state=RunState.RUNNING, started_at=NOW, heartbeat_at=NOW)
        session.add(run)
        session.flush()
        assert attach_run(session, [first.owner, "gone"], run.id) == 1
        assert attach_run(session, [], run.id) == 0
    assert _job(sessions, first.job_id).run_id == run.id
    assert _job(sessions, second.job_id).run_id is None


def test_claim_refuses_nonsense(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="limit"):
        _claim(sessions, limit=0)
    with pytest.raises(ValueError, match="lease"):
        _claim(sessions, lease=timedelta(0))
    with pytest.raises(ValueError, match="worker"):
        _claim(sessions, worker="")
    with pytest.raises(ValueError, match="kind"):
        claim(sessions, worker="w", limit=1, now=NOW, lease=LEASE, kinds=["weekly"])


# --- leases ---------------------------------------------------------------------------------


def test_renewed_leases_survive_and_expired_ones_return_to_the_queue(
    sessions: sessionmaker[Session],
) -> None:
    a, b = _sites(sessions, 2)
    _enqueue(sessions, a, "nightly")
    _enqueue(sessions, b, "nightly")
    kept, lost = _claim(sessions)

    later = NOW + timedelta(minutes=8)
    assert renew(sessions, [kept.owner, "not-a-token"], now=later, lease=LEASE) == {kept.owner}
    assert _job(sessions, kept.job_id).lease_until == later + LEASE

    with transaction(sessions) as session:  # neither lease has run out yet
        assert requeue_expired(session, now=NOW + timedelta(minutes=9)) == 0
    with transaction(sessions) as session:
        assert requeue_expired(session, now=NOW + timedelta(minutes=11)) == 1

    back = _job(sessions, lost.job_id)
    assert (back.state, back.owner, back.lease_until, back.worker, back.attempts) == (
        JobState.QUEUED,
        None,
        None,
        None,
        1,
    )
    assert back.error is not None and "lease expired" in back.error
    assert _job(sessions, kept.job_id).state == JobState.RUNNING

    # The lost attempt cannot renew; a renewal inside a caller's session works too.
    with transaction(sessions) as session:
        assert renew(session, [lost.owner, kept.owner], now=later, lease=LEASE) == {kept.owner}
    [again] = _claim(sessions, now=NOW + timedelta(minutes=12))
    assert (again.job_id, again.attempt) == (lost.job_id, 2)
    assert again.owner != lost.owner


def test_a_stale_owner_cannot_complete(sessions: sessionmaker[Session]) -> None:
    [site] = _sites(sessions, 1)
    _enqueue(sessions, site, "nightly")
    [old] = _claim(sessions)
    with transaction(sessions) as session:
        assert requeue(session, [old.owner], now=NOW, reason="dispatcher stopped") == 1
    assert _job(sessions, old.job_id).error == "dispatcher stopped"
    [new] = _claim(sessions, now=NOW + timedelta(minutes=1))
    assert new.job_id == old.job_id and new.owner != old.owner
    with transaction(sessions) as session:
        run = CrawlRun(trigger="nightly", state=RunState.FINISHED, started_at=NOW, heartbeat_at=NOW)
        session.add(run)
    finished = NOW + timedelta(minutes=5)

    with transaction(sessions) as session:
        assert not owns(session, old.job_id, old.owner)
        assert not complete(session, old.job_id, old.owner, now=finished)
    assert _job(sessions, old.job_id).state == JobState.RUNNING

    with transaction(sessions) as session:
        assert owns(session, new.job_id, new.owner)
        assert complete(session, new.job_id, new.owner, now=finished, run_id=run.id)
    job = _job(sessions, new.job_id)
    assert (job.state, job.finished_at, job.run_id, job.error, job.lease_until) == (
        JobState.DONE,
        finished,
        run.id,
        None,
        None,
    )
    with transaction(sessions) as session:  # finished is finished, even for its owner
        assert not complete(session, new.job_id, new.owner, now=finished)
        assert not owns(session, new.job_id, new.owner)
        assert requeue(session, [new.job_id], now=finished, reason="late") == 0


def test_a_completion_holds_off_a_requeue(sessions: sessionmaker[Session]) -> None:
    """The crawl checks ownership, writes results, completes; a requeue in between waits."""
    [site] = _sites(sessions, 1)
    _enqueue(sessions, site, "nightly")
    [job] = _claim(sessions)
    outcome: list[int] = []

    def stop_dispatcher() -> None:
        with transaction(sessions) as session:
            outcome.append(requeue(session, [job.job_id], now=NOW, reason="sigterm"))

    thread = threading.Thread(target=stop_dispatcher)
    with statements_in_flight(_engine(sessions)) as flying, sessions() as crawl, crawl.begin():
        assert owns(crawl, job.job_id, job.owner)
        thread.start()
        wait_for(lambda: waiting_in_database(flying, thread), 10,
                 "the requeue to wait for the crawl's transaction")
        assert complete(crawl, job.job_id, job.owner, now=NOW)
    thread.join(timeout=30)

    assert outcome == [0]
    assert _job(sessions, job.job_id).state == JobState.DONE


def test_a_failed_crawl_marks_the_job_failed(sessions: sessionmaker[Session]) -> None:
    [site] = _sites(sessions, 1)
    _enqueue(sessions, site, "recheck")
    [job] = _claim(sessions)
    with transaction(sessions) as session:
        assert complete(session, job.job_id, job.owner, now=NOW, error="crawl exited with 1")
    stored = _job(sessions, job.job_id)
    assert (stored.state, stored.error) == (JobState.FAILED, "crawl exited with 1")


def test_a_job_fails_after_max_attempts(sessions: sessionmaker[Session]) -> None:
    [site] = _sites(sessions, 1)
    _enqueue(sessions, site, "nightly")
    at = NOW
    for attempt in (1, 2, 3):
        [job] = _claim(sessions, now=at)
        assert job.attempt == attempt
        at += LEASE + timedelta(minutes=1)
        with transaction(sessions) as session:
            assert requeue_expired(session, now=at, max_attempts=3) == 1

    stored = _job(sessions, job.job_id)
    assert (stored.state, stored.attempts, stored.finished_at) == (JobState.FAILED, 3, at)
    assert stored.error is not None
    assert "lease expired" in stored.error and "3 attempts" in stored.error
    assert _claim(sessions, now=at) == []
    # A failed job is not active: the site can be queued again.
    assert _enqueue(sessions, site, "nightly", now=at).created


def test_requeue_by_id_fails_jobs_out_of_attempts(sessions: sessionmaker[Session]) -> None:
    a, b = _sites(sessions, 2)
    _enqueue(sessions, a, "nightly")
    _enqueue(sessions, b, "nightly")
    first, second = _claim(sessions)
    with transaction(sessions) as session:
        result = requeue(
            session, [first.job_id, second.owner], now=NOW, reason="stopped", max_attempts=1
        )
    assert result == 2
    assert [(j.state, j.error) for j in _jobs(sessions)] == [
        (JobState.FAILED, "stopped (gave up: 1 attempts spent)")
    ] * 2
    with transaction(sessions) as session, pytest.raises(TypeError):
        requeue(session, [1.5], now=NOW, reason="x")  # type: ignore[list-item]


# --- stats ----------------------------------------------------------------------------------


def test_stats(sessions: sessionmaker[Session]) -> None:
    empty = sessions()
    with empty:
        nothing = stats(empty, now=NOW)
    assert (nothing.queued, nothing.running, nothing.oldest_queued_at, nothing.oldest_wait) == (
        0,
        0,
        None,
        None,
    )

    a, b, c = _sites(sessions, 3)
    _enqueue(sessions, a, "nightly", now=NOW)
    _enqueue(sessions, b, "nightly", now=NOW + timedelta(minutes=1))
    _enqueue(sessions, c, "nightly", now=NOW + timedelta(minutes=2))
    [job] = _claim(sessions, limit=1, worker="dispatcher-7", now=NOW + timedelta(minutes=3))
    _enqueue(sessions, b, "recheck", now=NOW + timedelta(minutes=4))

    with sessions() as session:
        now = NOW + timedelta(minutes=5)
        current = stats(session, now=now)
        assert (current.queued, current.running, current.expired) == (2, 1, 0)
        assert current.queued_by_kind == {"nightly": 1, "recheck": 1}
        assert current.oldest_queued_at == NOW + timedelta(minutes=1)
        assert current.oldest_wait == timedelta(minutes=4)
        [running] = current.running_jobs
        assert (running.job_id, running.site_id, running.worker, running.kind) == (
            job.job_id,
            a,
            "dispatcher-7",
            "nightly",
        )
        assert running.started_at == NOW + timedelta(minutes=3)
        assert stats(session, now=NOW + timedelta(hours=1)).expired == 1


# --- an engine's jobs (Procrastinate on PostgreSQL) -----------------------------------------


def test_an_engine_job_claims_only_its_queued_jobs(sessions: sessionmaker[Session]) -> None:
    sites = _sites(sessions, 4)
    with transaction(sessions) as session:
        ids = [enqueue(session, s, kind="nightly", now=NOW).job_id for s in sites]
    [other] = claim_jobs(sessions, [ids[1]], worker="w2", now=NOW, lease=LEASE,
                         owner_prefix="pq8.0.")
    claims = claim_jobs(sessions, ids[:3], worker="w1", now=NOW, lease=LEASE,
                        owner_prefix="pq7.0.")
    # Its own jobs only (not the fourth), and not the one another attempt holds.
    assert [c.job_id for c in claims] == [ids[0], ids[2]]
    assert all(c.owner.startswith("pq7.0.") and len(c.owner) == 6 + 32 for c in claims)
    assert other.owner.startswith("pq8.0.")
    assert claim_jobs(sessions, ids[:3], worker="w1", now=NOW, lease=LEASE,
                      owner_prefix="pq7.1.") == []
    assert _job(sessions, ids[3]).state == JobState.QUEUED
    with pytest.raises(ValueError, match="owner_prefix"):
        claim_jobs(sessions, ids, worker="w1", now=NOW, lease=LEASE, owner_prefix="p" * 33)


def test_a_retried_engine_job_takes_back_what_its_dead_attempt_held(
    sessions: sessionmaker[Session],
) -> None:
    sites = _sites(sessions, 3)
    with transaction(sessions) as session:
        ids = [enqueue(session, s, kind="nightly", now=NOW).job_id for s in sites]
    dead = claim_jobs(sessions, ids[:2], worker="w1", now=NOW, lease=LEASE,
                      owner_prefix="pq1.0.")
    [neighbour] = claim_jobs(sessions, [ids[2]], worker="w1", now=NOW, lease=LEASE,
                             owner_prefix="pq12.0.")
    with transaction(sessions) as session:
        run = CrawlRun(trigger="nightly", state=RunState.RUNNING, started_at=NOW, heartbeat_at=NOW)
        other = CrawlRun(trigger="nightly", state=RunState.RUNNING, started_at=NOW,
                         heartbeat_at=NOW)
        session.add_all([run, other])
        session.flush()
        attach_run(session, [c.owner for c in dead], run.id)
        attach_run(session, [neighbour.owner], other.id)
        # The runs of the attempts about to be taken back: by owner, or by expired lease.
        assert runs_held(session, owner_prefix="pq1.") == [run.id]
        assert runs_held(session, expired_at=NOW + LEASE + timedelta(seconds=1)) == sorted(
            [run.id, other.id])
        assert runs_held(session, expired_at=NOW) == []
    later = NOW + timedelta(minutes=1)
    with transaction(sessions) as session:
        # "pq1." is not a prefix of "pq12.": the neighbour keeps its job.
        assert take_back_prefixed(session, "pq1.", now=later, reason="worker died") == 2
    again = claim_jobs(sessions, ids[:2], worker="w2", now=later, lease=LEASE,
                       owner_prefix="pq1.1.")
    assert [c.job_id for c in again] == ids[:2] and [c.attempt for c in again] == [2, 2]
    with transaction(sessions) as session:
        # The dead attempt, were it still running somewhere, can publish nothing.
        assert not complete(session, dead[0].job_id, dead[0].owner, now=later)
        assert complete(session, again[0].job_id, again[0].owner, now=later)
        assert owns(session, neighbour.job_id, neighbour.owner)
        with pytest.raises(ValueError, match="owner_prefix"):
            take_back_prefixed(session, "", now=later, reason="x")
