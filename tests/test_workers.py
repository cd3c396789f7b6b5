"""The crawl work on many workers: real `badgewatch worker` processes (Procrastinate) on this
machine's PostgreSQL, sites on loopback, a worker killed with SIGKILL, a recheck during the
night, and the schedule fired once by workers started together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from badgewatch.cli.main import cli
from monitor.workers import last_fire
from store.db import make_engine, transaction
from store.models import CrawlJob, CrawlRun, MonitorBeat, PageResult, Site, SiteCheck
from tests.conftest import postgres_database
from tests.factories import loopback_env, stop_processes, wait_for
from tests.test_monitor import cli_run, db, jobs_by_state, register_sites, site_pages

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEVER = "0 0 1 29 2 *"  # 29 February: never while a test runs


@pytest.fixture
def pg_url(postgres_template: str) -> Iterator[str]:
    with postgres_database("bw_workers", f'TEMPLATE "{postgres_template}"') as url:
        yield url


@pytest.fixture
def worker_env(tmp_path, pg_url, dns_config) -> dict[str, str]:
    return {
        **loopback_env(pg_url, dns_config, tmp_path / "var", CRAWL_RETRIES="0",
                       CRAWL_DOWNLOAD_TIMEOUT="5", RENDER_ENABLED="false"),
        "BADGEWATCH_MONITOR_TICK_SECONDS": "0.3",
        "BADGEWATCH_MONITOR_LEASE_SECONDS": "6",
        "BADGEWATCH_MONITOR_NIGHTLY_CRON": NEVER,
        "BADGEWATCH_MONITOR_DIGEST_CRON": NEVER,
        "BADGEWATCH_WORKERS_HEARTBEAT_SECONDS": "1",
        "BADGEWATCH_WORKERS_STALLED_SECONDS": "4",
        "BADGEWATCH_WORKERS_SWEEP_SECONDS": "1",
        "BADGEWATCH_WORKERS_SCHEDULE_SECONDS": "1",
        "BADGEWATCH_WORKERS_SHUTDOWN_SECONDS": "5",
    }


def serve_sites(serve_site, env, tmp_path, count: int, *, pages: int, delay: float,
                prefix: str) -> list[Any]:
    """``count`` sites of a home page and ``pages`` more, all with their badge."""
    servers, rows = [], []
    for n in range(1, count + 1):
        server = serve_site(site_pages(n, pages, delay=delay), names=[f"{prefix}{n}.政务"])
        servers.append(server)
        rows.append((n, f"{prefix}{n}.政务", server.ip, date.today()))
    register_sites(env, tmp_path, rows, handlers=False)
    return servers


@pytest.fixture
def start_badgewatch(worker_env) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, command: str = "worker", **overrides: str) -> subprocess.Popen[bytes]:
        """``badgewatch worker ARGS`` (or another command), its output in ``<command>.log``."""
        env = {**os.environ, **worker_env, **overrides}
        log_path = Path(worker_env["BADGEWATCH_PATHS_DATA_DIR"]).parent / f"{command}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115
        process = subprocess.Popen([sys.executable, "-m", "badgewatch", command, *args],
                                   env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    stop_processes(started)


def crawl_processes(database_url: str, *, parent: int | None = None) -> list[int]:
    """Crawl and witness processes of this test's database still alive (of one parent, if
    given), read from /proc."""
    found = []
    marker = f"BADGEWATCH_DATABASE_URL={database_url}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"crawler.run" not in cmdline and b"crawler.witness" not in cmdline:
                continue
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            status = dict(
                line.split(":\t", 1) for line in (entry / "status").read_text().splitlines()
                if ":\t" in line
            )
            if status["State"].startswith("Z"):
                continue
            if parent is None or int(status["PPid"]) == parent:
                found.append(int(entry.name))
        except (OSError, KeyError, ValueError):
            continue
    return found


def queue_nightly(env: dict[str, str]) -> None:
    """What the schedule does at the nightly fire time, through the engine (a Procrastinate
    job per batch on PostgreSQL)."""
    subprocess.run([sys.executable, "-c", "from monitor.jobs import queue_nightly; "
                    "queue_nightly()"], env={**os.environ, **env}, cwd=ROOT, check=True,
                   timeout=60)


@pytest.mark.postgres
def test_two_workers_share_a_night_and_survive_a_sigkill(
    worker_env, tmp_path, serve_site, start_badgewatch
) -> None:
    """40 sites of 6 pages, each page taking 0.15 s; two workers of two crawl processes, one
    killed with SIGKILL mid-crawl and started again."""
    count = 40
    serve_sites(serve_site, worker_env, tmp_path, count, pages=5, delay=0.15, prefix="共享")
    factory = db(worker_env)
    url = worker_env["BADGEWATCH_DATABASE_URL"]
    env = {**worker_env, "BADGEWATCH_MONITOR_SITES_PER_PROCESS": "4"}
    queue_nightly(env)
    assert jobs_by_state(factory) == Counter({"queued": count})

    first = start_badgewatch("--concurrency", "2", BADGEWATCH_MONITOR_SITES_PER_PROCESS="4")
    second = start_badgewatch("--concurrency", "2", BADGEWATCH_MONITOR_SITES_PER_PROCESS="4")

    def running_of(process: subprocess.Popen[bytes]) -> int:
        with transaction(factory) as session:
            return session.scalar(
                select(func.count()).select_from(CrawlJob).where(
                    CrawlJob.state == "running", CrawlJob.worker.like(f"%:{process.pid}/%"))
            ) or 0

    wait_for(lambda: running_of(first) > 0 and running_of(second) > 0, 120,
             "both workers crawling")
    first_crawls = wait_for(lambda: crawl_processes(url, parent=first.pid), 30,
                            "the first worker's crawl process")
    first.kill()  # SIGKILL: no clean stop; its crawls die with it (parent-death signal)
    first.wait(10)
    wait_for(lambda: not set(crawl_processes(url)) & set(first_crawls), 10,
             "the killed worker's crawls gone with it")
    restarted = start_badgewatch("--concurrency", "2", BADGEWATCH_MONITOR_SITES_PER_PROCESS="4")

    wait_for(lambda: jobs_by_state(factory) == Counter({"done": count}), 420,
             "every site's job done")

    with transaction(factory) as session:
        complete = Counter(site_id for (site_id,) in session.execute(
            select(SiteCheck.site_id).where(SiteCheck.complete)))
        assert len(complete) == count and set(complete.values()) == {1}
        # No page checked twice within a check; every complete check has all six pages.
        pages = Counter(session.execute(
            select(PageResult.check_id, PageResult.url)
            .join(SiteCheck, SiteCheck.id == PageResult.check_id)
            .where(SiteCheck.complete)).all())
        assert set(pages.values()) == {1}
        per_check = Counter(check_id for check_id, _ in pages)
        assert set(per_check.values()) == {6}
        # The killed worker's jobs were taken back and run again.
        attempts = Counter(j.attempts for j in session.scalars(select(CrawlJob)))
        assert attempts[2] >= 1, attempts
        workers = {j.worker.split("/")[0] for j in session.scalars(select(CrawlJob))}
        assert len(workers) >= 2, workers  # the night was shared
        statuses = Counter(s.status.value for s in session.scalars(select(Site)))
        # The killed worker's runs never finished; they are recorded incomplete (by their
        # witness, or when their jobs are taken back: a run is attached to its jobs when it
        # is created, so none is left running).
        runs = Counter(r.state.value for r in session.scalars(select(CrawlRun)))
    assert statuses == Counter({"compliant": count})
    assert runs["incomplete"] >= 1 and runs["finished"] >= 1, runs

    # The operator's view: one line a worker process (the killed one gone), then the night.
    def shown_workers() -> list[str]:
        status = json.loads(cli_run(worker_env, "monitor", "status", "--json"))["engine"]
        return sorted(w["name"] for w in status["workers"])

    wait_for(lambda: len(shown_workers()) == 2, 30, "the killed worker no longer shown")
    names = shown_workers()
    assert [f"进程 {p.pid}，2 个抓取进程" in name for p in (second, restarted)
            for name in names].count(True) == 2, names
    text_status = cli_run(worker_env, "monitor", "status")
    assert "engine: procrastinate, 2 worker(s)" in text_status
    assert f"（进程 {first.pid}" not in text_status
    night = json.loads(cli_run(worker_env, "monitor", "status", "--json"))["engine"][
        "recent_nights"]
    assert len(night) == 1 and night[0]["pages"] >= count * 6, night
    assert night[0]["finished_at"] is not None and night[0]["pages_per_second"] > 0, night
    assert f"night of {night[0]['night']}: {night[0]['runs']} run(s)" in text_status

    for process in (second, restarted):
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    wait_for(lambda: not crawl_processes(url), 30, "no crawl process left")
    status = json.loads(cli_run(worker_env, "monitor", "status", "--json"))
    assert status["engine"]["engine"] == "procrastinate"
    assert status["engine"]["workers"] == []
    assert status["queue"]["running"] == 0
    recent = status["engine"]["recent_runs"]
    assert len(recent) == 10 and all(r["pages_per_second"] > 0 for r in recent
                                     if r["state"] == "finished")


@pytest.mark.postgres
def test_a_recheck_queued_during_the_night_runs_before_the_backlog(
    worker_env, tmp_path, serve_site, start_badgewatch
) -> None:
    count = 16
    serve_sites(serve_site, worker_env, tmp_path, count, pages=5, delay=0.2, prefix="夜")
    factory = db(worker_env)
    env = {**worker_env, "BADGEWATCH_MONITOR_SITES_PER_PROCESS": "2"}
    queue_nightly(env)
    start_badgewatch("--concurrency", "1", BADGEWATCH_MONITOR_SITES_PER_PROCESS="2")
    wait_for(lambda: jobs_by_state(factory)["running"] >= 1, 120, "the night under way")

    recheck = subprocess.run(
        [sys.executable, "-m", "badgewatch", "recheck", f"夜{count}.政务", "--wait", "--json"],
        env={**os.environ, **worker_env}, cwd=ROOT, capture_output=True, timeout=300,
        check=False,
    )
    assert recheck.returncode == 0, recheck.stderr.decode()[-2000:]
    data = json.loads(recheck.stdout)
    assert data["state"] == "done" and data["sites"][0]["status"] == "compliant"
    wait_for(lambda: jobs_by_state(factory) == Counter({"done": count}), 300, "the night done")
    with transaction(factory) as session:
        job = session.get(CrawlJob, data["job"])
        assert job is not None and job.kind == "recheck" and job.finished_at is not None
        nightly = select(CrawlJob).where(CrawlJob.kind == "nightly")
        nightly_finished = sorted(j.finished_at for j in session.scalars(nightly))
    # It ran ahead of the backlog: most of the night was still to come when it finished.
    later = [at for at in nightly_finished if at > job.finished_at]
    assert len(later) >= count // 2, (job.finished_at, nightly_finished)


@pytest.mark.postgres
def test_workers_started_together_fire_the_nightly_run_once(
    worker_env, tmp_path, serve_site, start_badgewatch
) -> None:
    serve_sites(serve_site, worker_env, tmp_path, 3, pages=2, delay=0.0, prefix="一次")
    factory = db(worker_env)
    fire = datetime.now(SHANGHAI).replace(microsecond=0) + timedelta(seconds=12)
    cron = f"{fire.second} {fire.minute} {fire.hour} {fire.day} {fire.month} *"
    overrides = {"BADGEWATCH_MONITOR_NIGHTLY_CRON": cron, "BADGEWATCH_MONITOR_DIGEST_CRON": cron}
    # Three workers and two monitors at once: on PostgreSQL the monitors leave the schedule
    # to the workers, whose periodic task defers each fire time once.
    workers = [start_badgewatch("--concurrency", "1", **overrides) for _ in range(3)]
    workers += [start_badgewatch(command="monitor", **overrides) for _ in range(2)]
    wait_for(lambda: jobs_by_state(factory) == Counter({"done": 3}), 120, "the nightly run")
    # Well past the fire time, every worker has read the schedule several times since.
    wait_for(lambda: datetime.now(UTC) > fire.astimezone(UTC) + timedelta(seconds=6), 30,
             "a while after the fire time")
    with transaction(factory) as session:
        assert session.scalar(select(func.count()).select_from(CrawlJob)) == 3
        fired = dict(session.execute(text(
            "SELECT task_name, count(*) FROM procrastinate_jobs "
            "WHERE task_name IN ('badgewatch.nightly', 'badgewatch.daily_pass') "
            "GROUP BY task_name")).all())
    assert fired == {"badgewatch.nightly": 1, "badgewatch.daily_pass": 1}
    for process in workers:
        assert process.poll() is None
    # Each worker process is three Procrastinate workers (crawls, the recheck lane, control),
    # shown as one: the three processes, by machine and pid; the monitors are not workers.
    status = json.loads(cli_run(worker_env, "monitor", "status", "--json"))["engine"]
    assert status["engine"] == "procrastinate" and len(status["workers"]) == 3
    text_status = cli_run(worker_env, "monitor", "status")
    assert "engine: procrastinate, 3 worker(s)" in text_status
    for process in workers[:3]:
        assert f"（进程 {process.pid}，1 个抓取进程）" in text_status


def test_the_schedule_reads_cron_lines_in_the_monitors_time_zone() -> None:
    """01:00 in Beijing is 17:00 UTC the day before; the latest fire within the grace only."""
    now = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)  # 11:30 in Beijing
    grace = timedelta(hours=6)
    fire = last_fire("0 1 * * *", "Asia/Shanghai", now=now, grace=timedelta(hours=12))
    assert fire == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert last_fire("0 1 * * *", "Asia/Shanghai", now=now, grace=grace) is None
    assert last_fire("0 8 * * *", "Asia/Shanghai", now=now, grace=grace) == datetime(
        2026, 12, 1, 0, 0, tzinfo=UTC)
    # Six fields put seconds first: every 20 seconds, the latest is at :20.
    assert last_fire("*/20 * * * * *", "Asia/Shanghai", now=now + timedelta(seconds=39),
                     grace=grace) == now + timedelta(seconds=20)
    assert last_fire("0 0 1 29 2 *", "Asia/Shanghai", now=now, grace=grace) is None


def test_a_worker_needs_postgresql(tmp_path, sqlite_url) -> None:
    env = {"BADGEWATCH_CONFIG": "", "BADGEWATCH_DATABASE_URL": sqlite_url,
           "BADGEWATCH_PATHS_DATA_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(cli, ["worker"], env=env)
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output and "badgewatch monitor" in result.output


@pytest.mark.postgres
def test_a_worker_refuses_a_database_without_procrastinate(tmp_path) -> None:
    from alembic import command

    from store.migrate import alembic_config

    with postgres_database("bw_noworkers") as url:
        command.upgrade(alembic_config(url), "head")  # our tables only, as before this version
        env = {"BADGEWATCH_CONFIG": "", "BADGEWATCH_DATABASE_URL": url,
               "BADGEWATCH_PATHS_DATA_DIR": str(tmp_path / "var")}
        result = CliRunner().invoke(cli, ["worker"], env=env)
        assert result.exit_code == 1
        assert "has no Procrastinate tables" in result.output
        assert "run `badgewatch db upgrade`" in result.output
        cli_run(env, "db", "upgrade")
        cli_run(env, "db", "upgrade")  # twice: a database that has them is left as it is
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM procrastinate_jobs")).scalar() == 0
        engine.dispose()


@pytest.mark.postgres
def test_on_postgresql_the_monitor_leaves_the_crawls_to_the_workers(
    worker_env, tmp_path, serve_site, start_badgewatch
) -> None:
    serve_sites(serve_site, worker_env, tmp_path, 2, pages=2, delay=0.0, prefix="分工")
    factory = db(worker_env)
    queue_nightly(worker_env)
    monitor = start_badgewatch(command="monitor")
    try:
        started = datetime.now(UTC)

        def beats() -> int:
            with transaction(factory) as session:
                beat = session.scalars(select(MonitorBeat)).first()
                return 0 if beat is None else int(
                    (beat.heartbeat_at - started).total_seconds() / 0.3)

        # The monitor has ticked for two seconds and more: it claimed nothing.
        wait_for(lambda: beats() > 6, 60, "the monitor ticking")
        assert jobs_by_state(factory) == Counter({"queued": 2})
        status = json.loads(cli_run(worker_env, "monitor", "status", "--json"))
        assert status["monitor"] is not None and status["engine"]["workers"] == []
        assert status["engine"]["queued_by_kind"] == {"nightly": 2}
        start_badgewatch("--concurrency", "1")
        wait_for(lambda: jobs_by_state(factory) == Counter({"done": 2}), 120, "the workers' crawl")

        def states() -> Counter[str]:
            with transaction(factory) as session:
                return Counter(s.state.value for s in session.scalars(select(Site)))

        # The worker settles the sites' states once their crawl process ended.
        wait_for(lambda: states() == Counter({"compliant": 2}), 60, "the states settled")
        with transaction(factory) as session:
            workers = {j.worker for j in session.scalars(select(CrawlJob))}
        assert all(w.startswith("worker:") for w in workers), workers
    finally:
        monitor.send_signal(signal.SIGTERM)
        assert monitor.wait(60) == 0


def test_workers_settings_that_cannot_work_are_refused(monkeypatch) -> None:
    from badgewatch.config import ConfigError, load_config

    monkeypatch.setenv("BADGEWATCH_CONFIG", "")
    monkeypatch.setenv("BADGEWATCH_WORKERS_STALLED_SECONDS", "5")
    with pytest.raises(ConfigError, match=r"stalled_seconds \(5\) must be at least twice"):
        load_config()
    monkeypatch.setenv("BADGEWATCH_WORKERS_STALLED_SECONDS", "60")
    monkeypatch.setenv("BADGEWATCH_WORKERS_SWEEP_SECONDS", "7")
    with pytest.raises(ConfigError, match="7 does not divide 60"):
        load_config()
