"""What ``badgewatch db prune`` and the daily pass delete besides page rows: the browser's
renders with their screenshot files, and the queue's finished jobs; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, session_factory, transaction
from store.models import CrawlJob, JobState, PageRender, Site, SiteCheck, SiteStatus
from store.retention import prune, prune_crawl_jobs, prune_page_renders
from tests.factories import add_check, add_office, add_site, add_unit, loopback_env, run

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def add_render(session: Session, check: SiteCheck, data_dir: Path, name: str | None,
               *, at: datetime) -> PageRender:
    """A render of the check's home page, its screenshot written where the crawl writes it."""
    relative = None
    if name is not None:
        relative = f"evidence/run-{check.run_id}/site-{check.site_id}/{name}.png"
        (data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / relative).write_bytes(PNG)
    render = PageRender(check_id=check.id, url="http://x/", viewport="desktop",
                        verdict="non_compliant", reasons=["badge_missing"], message="",
                        screenshot=relative, measurement=None, rendered_at=at)
    session.add(render)
    session.flush()
    return render


def add_job(session: Session, site: Site, state: JobState, finished: datetime | None) -> int:
    job = CrawlJob(site_id=site.id, kind="nightly", priority=10, state=state,
                   enqueued_at=(finished or NOW) - timedelta(minutes=10), finished_at=finished)
    session.add(job)
    session.flush()
    return job.id


def test_old_renders_go_with_their_screenshots_and_the_last_checks_stay(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=2)
    with transaction(sessions) as session:
        unit = add_unit(session, add_office(session))
        quiet = add_site(session, unit, domain="久未检查.政务")
        busy = add_site(session, unit, domain="每晚检查.政务")
        quiet_last = add_check(session, quiet, SiteStatus.NON_COMPLIANT, now=old)
        busy_old = add_check(session, busy, SiteStatus.NON_COMPLIANT, now=old)
        busy_last = add_check(session, busy, SiteStatus.NON_COMPLIANT, now=recent)
        kept_quiet = add_render(session, quiet_last, data, "quiet", at=old)
        gone = [add_render(session, busy_old, data, f"old-{n}", at=old) for n in range(3)]
        add_render(session, busy_old, data, None, at=old)  # a compliant page: no screenshot
        kept_busy = add_render(session, busy_last, data, "busy", at=recent)
        gone_files = [data / r.screenshot for r in gone if r.screenshot]
        kept = {kept_quiet.id, kept_busy.id}
    # One file of the old check is already gone (a disk cleaned by hand): no error.
    gone_files[0].unlink()

    pruned = prune(sessions, now=NOW, keep_days=30, data_dir=data, batch_rows=2)

    assert (pruned.page_renders, pruned.screenshots) == (4, 2)
    assert not any(path.exists() for path in gone_files)
    with transaction(sessions) as session:
        left = {r.id: r.screenshot for r in session.scalars(select(PageRender))}
    assert set(left) == kept
    # The evidence the web and the reports show, the last check's, is still on disk.
    assert all((data / str(path)).read_bytes() == PNG for path in left.values())
    again = prune(sessions, now=NOW, keep_days=30, data_dir=data)
    assert (again.page_renders, again.screenshots) == (0, 0)


def test_a_screenshot_path_outside_the_data_directory_is_never_removed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    data, outside = tmp_path / "data", tmp_path / "precious.png"
    outside.write_bytes(PNG)
    with transaction(sessions) as session:
        site = add_site(session, add_unit(session, add_office(session)))
        old = add_check(session, site, SiteStatus.NON_COMPLIANT, now=NOW - timedelta(days=40))
        add_check(session, site, SiteStatus.COMPLIANT, now=NOW)
        render = add_render(session, old, data, None, at=NOW - timedelta(days=40))
        render.screenshot = "../precious.png"
    pruned = prune(sessions, now=NOW, keep_days=30, data_dir=data)
    assert (pruned.page_renders, pruned.screenshots) == (1, 0)
    assert outside.read_bytes() == PNG


def test_finished_queue_jobs_go_after_the_window_and_live_ones_never(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    old = NOW - timedelta(days=31)
    with transaction(sessions) as session:
        unit = add_unit(session, add_office(session))
        sites = [add_site(session, unit, domain=f"队列{n}.政务") for n in range(4)]
        gone = {add_job(session, sites[0], JobState.DONE, old),
                add_job(session, sites[1], JobState.FAILED, old),
                add_job(session, sites[2], JobState.DONE, old)}
        kept = {add_job(session, sites[0], JobState.DONE, NOW - timedelta(days=29)),
                add_job(session, sites[1], JobState.QUEUED, None),
                add_job(session, sites[2], JobState.RUNNING, None)}
        stuck = add_job(session, sites[3], JobState.QUEUED, None)
        session.get_one(CrawlJob, stuck).enqueued_at = NOW - timedelta(days=60)
        kept.add(stuck)
    pruned = prune(sessions, now=NOW, keep_days=30, data_dir=tmp_path, batch_rows=2)
    assert pruned.crawl_jobs == len(gone)
    with transaction(sessions) as session:
        assert set(session.scalars(select(CrawlJob.id))) == kept


def test_db_prune_says_what_it_deleted(tmp_path: Path, db_url: str, dns_config) -> None:
    env = loopback_env(db_url, dns_config, tmp_path / "var")
    run(env, "db", "upgrade")
    data = Path(env["BADGEWATCH_PATHS_DATA_DIR"])
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        site = add_site(session, add_unit(session, add_office(session)))
        old = add_check(session, site, SiteStatus.NON_COMPLIANT, now=now - timedelta(days=50))
        add_render(session, old, data, "old", at=now - timedelta(days=50))
        add_check(session, site, SiteStatus.COMPLIANT, now=now)
        add_job(session, site, JobState.DONE, now - timedelta(days=50))
    engine.dispose()
    out = run(env, "db", "prune").output
    assert "1 条浏览器渲染记录（1 张截图）和 1 个已结束的检查任务" in out
    assert not (data / f"evidence/run-{old.run_id}").joinpath(f"site-{site.id}/old.png").exists()
    again = json.loads(run(env, "db", "prune", "--json").output)
    assert (again["page_renders"], again["screenshots"], again["crawl_jobs"]) == (0, 0, 0)


def test_a_batch_size_below_one_is_refused_not_looped_on(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="batch_rows"):
        prune_crawl_jobs(sessions, now=NOW, keep_days=30, batch_rows=0)
    with pytest.raises(ValueError, match="batch_rows"):
        prune_page_renders(sessions, now=NOW, keep_days=30, data_dir=tmp_path, batch_rows=0)
