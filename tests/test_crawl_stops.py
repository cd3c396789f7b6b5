"""Stops that stop: a crawl told to stop, or whose parent died, ends within seconds whatever it
is doing, its run is recorded incomplete at once, and it publishes nothing afterwards.

Real processes throughout: the crawl is started by ``crawler.launch.start_run`` (as ``badgewatch
crawl`` does) or by the CLI itself, on SQLite and PostgreSQL, against sites on loopback that keep
it busy (pages of badge-like tag soup, slow to check) and slow (a page that trickles in). Every
wait polls a condition with a generous deadline; "within seconds" deadlines are far below what
a crawl left running would take (the trickling page alone takes minutes).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.cli.main import cli
from badgewatch.config import load_config
from badgewatch.runtime import Runtime, utcnow
from crawler.jobs import jobs_for
from crawler.launch import follow, start_run
from crawler.results import ResultWriter, create_run, reap_stale_runs, stop_run
from crawler.stops import STOP_GRACE_SECONDS
from monitor.dispatch import Dispatcher
from store import queue
from store.db import transaction
from store.models import (
    CrawlJob,
    CrawlRun,
    JobState,
    RunState,
    Site,
    SiteCheck,
    SiteSource,
    Unit,
)
from testbed.siteserver import Route, SiteServer, government_page
from tests.factories import add_offices, badge, loopback_env, register, wait_for

ROOT = Path(__file__).resolve().parent.parent
BUSY = "繁忙.政务"  # tag soup that is slow to check, and a page that trickles in for minutes
STEADY = "平稳.政务"  # plain pages that answer after a few seconds
SOUP_PAGES = 12
QUICKLY = 30.0  # "within seconds", with room for a loaded two-CPU machine
GRACEFULLY = 120.0  # how long the CLI's wait (follow) gives a crawl before it stops it itself


def alive(pid: int) -> bool:
    """A process that exited is gone, even while it waits as a zombie to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def soup_page(n: int) -> str:
    """A page of badge-like tags without a badge: real markup that keeps the check busy."""
    return government_page(f"繁忙{n}", [], "<dcs.conac.cn " * 4500, size_kb=2)


@dataclass
class Sites:
    busy: SiteServer
    steady: SiteServer
    before: dict[str, tuple[str, datetime | None]]  # name -> (status, checked_at)


@pytest.fixture
def stops_env(tmp_path: Path, db_url: str, dns_config: Any) -> dict[str, str]:
    return loopback_env(db_url, dns_config, tmp_path / "var", CRAWL_OBEY_ROBOTS="false",
                        CRAWL_DOWNLOAD_TIMEOUT="600", CRAWL_RETRIES="0", RENDER_ENABLED="false")


@pytest.fixture
def runtime(stops_env: dict[str, str]) -> Iterator[Runtime]:
    rt = Runtime(load_config(environ=stops_env))
    yield rt
    rt.close()


@pytest.fixture
def crawl_pids(runtime: Runtime, stops_env: dict[str, str]) -> Iterator[list[int]]:
    """Crawl processes this test started; any still alive at the end is killed by its id,
    once its command line shows it is one of this test's (its job file is in our data dir)."""
    pids: list[int] = []
    yield pids
    with transaction(runtime.sessions) as session:
        pids.extend(pid for pid in session.scalars(select(CrawlRun.pid)) if pid)
    ours = stops_env["BADGEWATCH_PATHS_DATA_DIR"].encode()
    for pid in set(pids):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if alive(pid) and b"crawler.run" in command and ours in command:
                os.kill(pid, signal.SIGKILL)


def statuses(factory: sessionmaker[Session]) -> dict[str, tuple[str, datetime | None]]:
    with transaction(factory) as session:
        return {s.name: (s.status.value, s.checked_at) for s in session.scalars(select(Site))}


def latest_run(factory: sessionmaker[Session]) -> CrawlRun:
    with transaction(factory) as session:
        run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert run is not None
        session.expunge(run)
        return run


def run_row(factory: sessionmaker[Session], run_id: int) -> CrawlRun:
    with transaction(factory) as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        session.expunge(run)
        return run


@pytest.fixture
def sites(stops_env: dict[str, str], tmp_path: Path, serve_site: Any, runtime: Runtime) -> Sites:
    """Two sites with a complete `compliant` check. The steady site's pages then lose their
    badge and answer after a few seconds (`busy` and `slow` change the other one), so a site
    that published again would turn non_compliant."""
    links = [f"/p/{i}.html" for i in range(SOUP_PAGES)]
    busy = serve_site(
        {path: government_page(path, [], badge(1), size_kb=4) for path in ["/", *links]},
        names=[BUSY],
    )
    steady = serve_site(
        {path: government_page(path, [], badge(2), size_kb=4) for path in ["/", "/a.html"]},
        names=[STEADY],
    )
    register(stops_env, tmp_path, [(1, BUSY, busy.ip, None), (2, STEADY, steady.ip, None)])
    result = CliRunner().invoke(cli, ["crawl", "--json"], env=stops_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    before = statuses(runtime.sessions)
    assert {name: status for name, (status, _) in before.items()} == {
        "网站1": "compliant",
        "网站2": "compliant",
    }
    steady.set_route("/", Route(body=government_page("首页", ["/a.html"], "", 4), delay=2))
    steady.set_route("/a.html", Route(body=government_page("一", [], "", 4), delay=3))
    return Sites(busy, steady, before)


@pytest.fixture
def busy(sites: Sites) -> Sites:
    """The busy site's pages are tag soup, slow to check, and one page trickles in for minutes."""
    links = [f"/p/{i}.html" for i in range(SOUP_PAGES)]
    trickle = government_page("慢", [], "", size_kb=20)
    sites.busy.set_route("/", government_page("首页", ["/slow.html", *links], "", size_kb=4))
    sites.busy.set_route("/slow.html", Route(body=trickle, chunk_size=64, chunk_delay=0.5))
    for n, path in enumerate(links):
        sites.busy.set_route(path, soup_page(n))
    return sites


@pytest.fixture
def slow(sites: Sites) -> Sites:
    """Both sites are merely slow: every page answers after a few seconds. (A graceful stop
    lets in the pages Scrapy has handed to its downloader: a few here, all at once.)"""
    links = [f"/p/{i}.html" for i in range(3)]
    sites.busy.set_route("/", government_page("首页", links, "", size_kb=4))
    for path in links:
        sites.busy.set_route(path, Route(body=government_page(path, [], "", 4), delay=4))
    return sites


def under_way(sites: Sites) -> bool:
    """The trickling page is on its way and pages of tag soup have arrived to be checked."""
    soup = sum(sites.busy.hits(f"/p/{i}.html") for i in range(SOUP_PAGES))
    return sites.busy.hits("/slow.html") >= 1 and soup >= 2


def in_flight(sites: Sites) -> bool:
    """Both sites have a slow page on its way."""
    pages = sum(sites.busy.hits(f"/p/{i}.html") for i in range(3))
    return sites.steady.hits("/a.html") >= 1 and pages >= 1


def start(
    runtime: Runtime, env: dict[str, str], tmp_path: Path
) -> tuple[int, subprocess.Popen[bytes]]:
    """What ``badgewatch crawl`` does to start a crawl."""
    with transaction(runtime.sessions) as session:
        jobs = jobs_for(session)
    return start_run(
        runtime.sessions, runtime.config, jobs, trigger="cli", now=utcnow(), env=env,
        log_file=tmp_path / "crawl.log",
    )


def assert_nothing_published_since(
    factory: sessionmaker[Session], sites: Sites, run_id: int, since: datetime
) -> None:
    """Each site still has its last complete status, unless this run published it before
    ``since`` (a site may legitimately finish before the stop on a slow machine)."""
    after = statuses(factory)
    for name, (status, checked_at) in after.items():
        if (status, checked_at) != sites.before[name]:
            assert checked_at is not None and checked_at < since, (name, status, checked_at)
    with transaction(factory) as session:
        late = session.scalars(
            select(SiteCheck).where(
                SiteCheck.run_id == run_id, SiteCheck.complete, SiteCheck.finished_at >= since
            )
        ).all()
        assert late == []


def test_a_second_stop_signal_ends_the_crawl_at_once_recorded_incomplete(
    stops_env, tmp_path, busy, runtime, crawl_pids
) -> None:
    sites = busy
    run_id, process = start(runtime, stops_env, tmp_path)
    crawl_pids.append(process.pid)
    wait_for(lambda: under_way(sites), 120, "the crawl to be under way")

    stopped_at = utcnow()
    process.send_signal(signal.SIGTERM)
    # The first stop is recorded at once, busy or not; only then is the second one sent, so
    # the two are not merged into one by the kernel.
    wait_for(
        lambda: run_row(runtime.sessions, run_id).state is RunState.INCOMPLETE,
        QUICKLY,
        "the first SIGTERM to be recorded",
    )
    process.send_signal(signal.SIGTERM)
    process.wait(QUICKLY)
    assert process.returncode != 0

    run = run_row(runtime.sessions, run_id)
    assert run.state is RunState.INCOMPLETE
    assert run.finish_reason is not None and "SIGTERM" in run.finish_reason
    assert_nothing_published_since(runtime.sessions, sites, run_id, stopped_at)


def test_sigint_ends_the_crawl_at_once_recorded_incomplete(
    stops_env, tmp_path, busy, runtime, crawl_pids
) -> None:
    sites = busy
    run_id, process = start(runtime, stops_env, tmp_path)
    crawl_pids.append(process.pid)
    wait_for(lambda: under_way(sites), 120, "the crawl to be under way")

    stopped_at = utcnow()
    process.send_signal(signal.SIGINT)
    process.wait(QUICKLY)
    wait_for(
        lambda: run_row(runtime.sessions, run_id).state is RunState.INCOMPLETE,
        QUICKLY,
        "the run to be recorded incomplete",
    )
    assert "SIGINT" in (run_row(runtime.sessions, run_id).finish_reason or "")
    assert_nothing_published_since(runtime.sessions, sites, run_id, stopped_at)


def test_one_sigterm_is_recorded_at_once_and_ends_a_busy_crawl(
    stops_env, tmp_path, busy, runtime, crawl_pids
) -> None:
    """A graceful stop waits for the work in hand, but never longer than its grace period."""
    sites = busy
    run_id, process = start(runtime, stops_env, tmp_path)
    crawl_pids.append(process.pid)
    wait_for(lambda: under_way(sites), 120, "the crawl to be under way")

    stopped_at = utcnow()
    process.send_signal(signal.SIGTERM)
    wait_for(
        lambda: run_row(runtime.sessions, run_id).state is RunState.INCOMPLETE,
        QUICKLY,
        "the run to be recorded incomplete",
    )
    process.wait(STOP_GRACE_SECONDS + QUICKLY)
    run = run_row(runtime.sessions, run_id)
    assert (run.state, run.finish_reason) == (RunState.INCOMPLETE, "stopped: SIGTERM")
    assert_nothing_published_since(runtime.sessions, sites, run_id, stopped_at)


def test_one_sigterm_stops_gracefully_and_publishes_nothing_more(
    stops_env, tmp_path, slow, runtime, crawl_pids
) -> None:
    """Pages on their way are let in, sites are closed unpublished, the CLI's wait reports it."""
    sites = slow
    run_id, process = start(runtime, stops_env, tmp_path)
    crawl_pids.append(process.pid)
    wait_for(lambda: in_flight(sites), 120, "slow pages to be on their way")

    stopped_at = utcnow()
    process.send_signal(signal.SIGTERM)
    outcome = follow(runtime.sessions, run_id, process, timeout=GRACEFULLY)
    assert_nothing_published_since(runtime.sessions, sites, run_id, stopped_at)
    assert process.returncode == 1  # it ended by itself, not by the grace deadline
    assert outcome.state is RunState.INCOMPLETE
    assert outcome.finish_reason == "stopped: SIGTERM"
    with transaction(runtime.sessions) as session:
        checks = session.scalars(select(SiteCheck).where(SiteCheck.run_id == run_id)).all()
        run = session.get(CrawlRun, run_id)
        assert run is not None and run.stats  # the crawl closed its run itself
    # Every site was closed, those unfinished with a note saying why.
    assert all(check.finished_at is not None for check in checks)
    unfinished = [check for check in checks if not check.complete]
    assert unfinished and all(check.note for check in unfinished), [c.note for c in checks]


def test_a_crawl_whose_parent_was_killed_ends_and_publishes_nothing(
    stops_env, tmp_path, busy, runtime, crawl_pids
) -> None:
    """`kill -9` of `badgewatch crawl`: its crawl process must not live on as an orphan."""
    sites = busy
    out = open(tmp_path / "cli.out", "wb")  # noqa: SIM115
    parent = subprocess.Popen(
        [sys.executable, "-m", "badgewatch", "crawl", "--json"],
        env={**os.environ, **stops_env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: under_way(sites), 120, "the crawl to be under way")

        def crawl_run() -> CrawlRun | None:
            with transaction(runtime.sessions) as session:
                run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
                if run is None or run.pid is None or run.trigger != "cli" or run.id == 1:
                    return None
                session.expunge(run)
                return run

        run = wait_for(crawl_run, 60, "the crawl process to record its pid")
        crawl_pids.append(run.pid)
        killed_at = utcnow()
        parent.kill()
        parent.wait(QUICKLY)
    finally:
        if parent.poll() is None:
            parent.kill()
        out.close()

    wait_for(lambda: not alive(run.pid), QUICKLY, "the orphaned crawl process to end")
    wait_for(
        lambda: run_row(runtime.sessions, run.id).state is RunState.INCOMPLETE,
        QUICKLY,
        "the orphan's run to be recorded incomplete",
    )
    assert run_row(runtime.sessions, run.id).finish_reason == "ended with its launching process"
    assert_nothing_published_since(runtime.sessions, sites, run.id, killed_at)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, whichever of its threads started it."""
    kids: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # a thread or process that just ended
            kids.extend(int(kid) for kid in children.read_text().split())
    return kids + [grandchild for kid in kids for grandchild in descendants(kid)]


def browsers_of(pid: int) -> list[int]:
    found = []
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            if b"chrom" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the browser, not the storage
def test_a_rendering_crawl_whose_launcher_was_killed_leaves_no_browser_behind(
    stops_env, tmp_path, sites, runtime, crawl_pids
) -> None:
    # One page of the busy site trickles in, so the crawl renders the other site meanwhile.
    sites.busy.set_route("/", government_page("首页", ["/slow.html"], "", size_kb=4))
    trickle = government_page("慢", [], "", size_kb=20)
    sites.busy.set_route("/slow.html", Route(body=trickle, chunk_size=64, chunk_delay=0.5))
    env = {**os.environ, **stops_env, "BADGEWATCH_RENDER_ENABLED": "true"}
    out = open(tmp_path / "cli.out", "wb")  # noqa: SIM115
    parent = subprocess.Popen(
        [sys.executable, "-m", "badgewatch", "crawl"], env=env, cwd=ROOT, stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        run = wait_for(
            lambda: (r := latest_run(runtime.sessions)).id > 1 and r.pid and r, 60,
            "the crawl process to record its pid",
        )
        crawl_pids.append(run.pid)
        browser = wait_for(lambda: browsers_of(run.pid), 120, "the crawl to start Chromium")
        parent.kill()
        parent.wait(QUICKLY)
    finally:
        if parent.poll() is None:
            parent.kill()
        out.close()
    wait_for(lambda: not alive(run.pid), QUICKLY, "the orphaned crawl process to end")
    wait_for(lambda: not any(map(alive, browser)), QUICKLY, "its Chromium to end")
    wait_for(
        lambda: run_row(runtime.sessions, run.id).state is RunState.INCOMPLETE,
        QUICKLY,
        "the orphan's run to be recorded incomplete",
    )


def test_ctrl_c_on_badgewatch_crawl_ends_it_and_its_crawl_recorded_incomplete(
    stops_env, tmp_path, busy, runtime, crawl_pids
) -> None:
    """Ctrl-C reaches the whole foreground group: the command, its crawl and the witness."""
    sites = busy
    out = open(tmp_path / "cli.out", "wb")  # noqa: SIM115
    parent = subprocess.Popen(
        [sys.executable, "-m", "badgewatch", "crawl"], env={**os.environ, **stops_env},
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_for(lambda: under_way(sites), 120, "the crawl to be under way")
        run = latest_run(runtime.sessions)
        assert run.trigger == "cli" and run.pid is not None
        crawl_pids.append(run.pid)
        stopped_at = utcnow()
        os.killpg(parent.pid, signal.SIGINT)
        assert parent.wait(QUICKLY) == 1
    finally:
        if parent.poll() is None:
            parent.kill()
        out.close()
    assert "Aborted" in (tmp_path / "cli.out").read_text()
    assert not alive(run.pid)
    wait_for(
        lambda: run_row(runtime.sessions, run.id).state is RunState.INCOMPLETE,
        QUICKLY,
        "the run to be recorded incomplete",
    )
    # Recorded by the crawl's witness or by the command, whichever came first; both say why.
    assert "SIGINT" in (run_row(runtime.sessions, run.id).finish_reason or "")
    assert_nothing_published_since(runtime.sessions, sites, run.id, stopped_at)


def test_a_killed_crawl_process_is_recorded_incomplete_at_once(
    stops_env, tmp_path, busy, runtime, crawl_pids
) -> None:
    """`kill -9` of the crawl process itself: no reaping ten minutes later."""
    sites = busy
    run_id, process = start(runtime, stops_env, tmp_path)
    crawl_pids.append(process.pid)
    wait_for(lambda: under_way(sites), 120, "the crawl to be under way")
    process.kill()
    process.wait(QUICKLY)
    wait_for(
        lambda: run_row(runtime.sessions, run_id).state is RunState.INCOMPLETE,
        QUICKLY,
        "the killed run to be recorded incomplete",
    )
    assert run_row(runtime.sessions, run_id).finish_reason == "crawl process died"
    assert statuses(runtime.sessions) == sites.before
    status = json.loads(
        CliRunner().invoke(cli, ["status", "--json"], env=stops_env).output
    )
    assert status["runs"][0]["state"] == "incomplete"


def test_the_monitor_stops_a_crawl_over_its_time_limit_once_and_queues_its_jobs_again(
    stops_env, slow, runtime, crawl_pids
) -> None:
    """The dispatcher's time limit is one graceful stop, not a SIGTERM at every tick."""
    sites = slow
    env = {**stops_env, "BADGEWATCH_MONITOR_JOB_TIME_LIMIT": "60"}
    dispatcher = Dispatcher(load_config(environ=env), runtime.sessions, worker="test", env=env)
    with transaction(runtime.sessions) as session:
        assert queue.enqueue_nightly(session, now=utcnow()) == 2
    dispatcher.tick(utcnow())
    [batch] = dispatcher.batches
    crawl_pids.append(batch.process.pid)
    dispatcher.rechecks_only = True  # claim nothing more while the stop is watched
    wait_for(lambda: in_flight(sites), 120, "slow pages to be on their way")

    stopped_at = utcnow()
    over_the_limit = timedelta(seconds=61)  # time is a parameter of the dispatcher's tick

    def ended() -> bool:
        dispatcher.tick(utcnow() + over_the_limit)
        return not dispatcher.batches

    wait_for(ended, GRACEFULLY, "the crawl over its time limit to end")
    run = run_row(runtime.sessions, batch.run_id)
    assert (run.state, run.finish_reason) == (RunState.INCOMPLETE, "stopped: SIGTERM")
    with transaction(runtime.sessions) as session:
        jobs = [(job.state, job.error) for job in session.scalars(select(CrawlJob))]
    # Ended by itself after one SIGTERM (a second one would have ended it at once, by signal).
    assert jobs == [(JobState.QUEUED, "crawl process exited with code 1")] * 2
    assert_nothing_published_since(runtime.sessions, sites, batch.run_id, stopped_at)


# --- the publishing transaction, on each backend, without processes -------------------------

NOW = datetime(2026, 10, 14, 1, 0, tzinfo=UTC)


def a_claimed_site(factory: sessionmaker[Session]) -> tuple[int, queue.Claim]:
    with transaction(factory) as session:
        office = add_offices(session)["330100"]
        site = Site(
            unit=Unit(name="杭州市数据资源管理局", office=office), office=office, name="网站",
            domain="site.example.cn", ipv4="127.0.0.1", identifier="CA330000000604258010001",
            source=SiteSource.IMPORTED, monitored=True, created_at=NOW,
        )
        session.add(site)
        session.flush()
        site_id = site.id
        queue.enqueue(session, site_id, kind="nightly", now=NOW)
    [claim] = queue.claim(factory, worker="w", limit=1, now=NOW, lease=timedelta(minutes=10))
    return site_id, claim


def end_elsewhere(factory: sessionmaker[Session], writer: ResultWriter, how: str) -> None:
    """The run ends while a site's check is in hand, the ways it can."""
    with transaction(factory) as session:
        if how == "stop signal":
            writer.stop("stopped: SIGTERM")
        elif how == "witness or launcher":
            stopped = stop_run(
                session, writer.run_id, now=NOW, reason="stopped: SIGTERM", pid=writer.pid
            )
            assert stopped
        elif how == "reaper":
            late = NOW + timedelta(hours=1)
            assert reap_stale_runs(session, now=late, stale_after=timedelta(minutes=10)) == 1
        elif how == "another process":
            run = session.get(CrawlRun, writer.run_id)
            assert run is not None
            run.pid = writer.pid + 1
        else:
            assert how == "nothing"


@pytest.mark.parametrize(
    "how", ["nothing", "stop signal", "witness or launcher", "reaper", "another process"]
)
def test_a_run_that_is_over_publishes_nothing_and_keeps_its_job_queued(
    sessions: sessionmaker[Session], how: str
) -> None:
    site_id, claim = a_claimed_site(sessions)
    with transaction(sessions) as session:
        run_id = create_run(session, trigger="nightly", now=NOW, sites=1).id
    writer = ResultWriter(sessions, run_id)
    tally = writer.open_site(site_id, {"outcome": "ok"}, NOW, (claim.job_id, claim.owner))
    tally.home_fetched, tally.checked, tally.failing = True, 3, 1

    end_elsewhere(sessions, writer, how)
    writer.close_site(tally, NOW, finished=True, publish=True, note=None)
    writer.finish(NOW, reason="finished", complete=True)

    with transaction(sessions) as session:
        site = session.get(Site, site_id)
        job = session.get(CrawlJob, claim.job_id)
        check = session.get(SiteCheck, tally.check_id)
        run = session.get(CrawlRun, run_id)
        assert site is not None and job is not None and check is not None and run is not None
        if how == "nothing":
            assert (site.status.value, site.last_check_id) == ("non_compliant", check.id)
            assert (job.state, check.complete, run.state) == (
                JobState.DONE, True, RunState.FINISHED,
            )
            return
        assert (site.status.value, site.last_check_id, site.checked_at) == ("unchecked", None, None)
        # The job stays with its attempt, for the queue to take back when the process ends.
        assert (job.state, job.owner) == (JobState.RUNNING, claim.owner)
        assert not check.complete and check.status is None
        assert check.note is not None and check.note.startswith("not published"), check.note
        assert run.state is RunState.INCOMPLETE
        assert run.finish_reason != "finished"
