"""The monitor end to end: a real `badgewatch monitor` process, sites on loopback, real SMTP,
SMS and webhook servers, the queue, a killed monitor and a recheck racing a nightly run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from badgewatch.cli.main import cli
from store.db import make_engine, session_factory, transaction
from store.models import (
    CrawlJob,
    MonitorBeat,
    OutboxMessage,
    OutboxStatus,
    Site,
    SiteCheck,
)
from testbed.siteserver import Route, government_page
from tests.factories import (
    HEADER,
    badge,
    certificate,
    identifier,
    loopback_env,
    stop_processes,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the monitor's default time zone, read by its cron lines


@pytest.fixture
def monitor_env(tmp_path, sqlite_url, dns_config, smtp_server, sms_gateway) -> dict[str, str]:
    return {
        **loopback_env(sqlite_url, dns_config, tmp_path / "var", CRAWL_RETRIES="0",
                       CRAWL_DOWNLOAD_TIMEOUT="5", RENDER_ENABLED="false"),
        "BADGEWATCH_SMTP_HOST": smtp_server.host,
        "BADGEWATCH_SMTP_PORT": str(smtp_server.port),
        "BADGEWATCH_SMS_URL": sms_gateway.sms_url,
        "BADGEWATCH_NOTIFY_WEBHOOK_URL": sms_gateway.webhook_url,
        "BADGEWATCH_NOTIFY_BACKOFF_SECONDS": "1",
        "BADGEWATCH_MONITOR_TICK_SECONDS": "0.3",
        "BADGEWATCH_MONITOR_LEASE_SECONDS": "5",
        # Never while a test runs (29 February): the tests call the jobs when they want them.
        "BADGEWATCH_MONITOR_NIGHTLY_CRON": "0 0 1 29 2 *",
        "BADGEWATCH_MONITOR_DIGEST_CRON": "0 0 8 29 2 *",
    }


def cli_run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def register_sites(env: dict[str, str], tmp_path: Path, rows: list[tuple[int, str, str, date]],
                   handlers: bool = True) -> None:
    """(n, domain, ip, notified_on); each unit gets a handler with email and mobile."""
    cli_run(env, "office", "add", "330000", "浙江省委编办", "--level", "province",
            "--email", "office@zj.example.cn")
    lines = [HEADER]
    for n, domain, ip, notified in rows:
        lines.append(f"单位{n},330000,网站{n},{domain},,{ip},,{identifier(n)},{certificate(n)},"
                     f"{notified.isoformat()}")
    path = tmp_path / "sites.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli_run(env, "sites", "import", str(path))
    if handlers:
        for n, *_ in rows:
            cli_run(env, "user", "add", f"经办人{n}", "--role", "unit_handler",
                    "--unit", f"单位{n}", "--email", f"unit{n}@example.cn",
                    "--mobile", f"1390571{n:04d}")


def site_pages(n: int, pages: int, *, with_badge: bool = True, delay: float = 0.0
               ) -> dict[str, Route | str]:
    links = [f"/p/{i}.html" for i in range(pages)]
    footer = badge(n) if with_badge else ""
    routes: dict[str, Route | str] = {}
    for path in ["/", *links]:
        body = government_page(path, links, footer, size_kb=6)
        routes[path] = Route(body=body, delay=delay) if delay else body
    return routes


@pytest.fixture
def start_monitor(monitor_env) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**overrides: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, **monitor_env, **overrides}
        log = open(Path(monitor_env["BADGEWATCH_PATHS_DATA_DIR"]).parent / "monitor.log", "ab")  # noqa: SIM115
        process = subprocess.Popen([sys.executable, "-m", "badgewatch", "monitor"], env=env,
                                   cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    stop_processes(started)


def queue_nightly_now(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """What the scheduler's nightly job does; it reads the configuration from the environment."""
    from monitor import jobs as scheduled

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    scheduled.queue_nightly()


def daily_pass_now(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """What the scheduler's daily job does (deadlines, reminders, digests), called now."""
    from monitor import jobs as scheduled

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    scheduled.daily_pass()


def ticked_since(factory, moment: datetime) -> bool:
    """A whole tick of the monitor (settle finished crawls, deliver the outbox) began after
    ``moment``: its beat, written last, carries the tick's start."""
    with transaction(factory) as session:
        beats = select(MonitorBeat.id).where(MonitorBeat.heartbeat_at > moment)
        return session.scalars(beats).first() is not None


def published(factory) -> int:
    """Site checks published complete so far."""
    with transaction(factory) as session:
        return session.scalar(
            select(func.count()).select_from(SiteCheck).where(SiteCheck.complete)
        ) or 0


def outbox_delivered(factory) -> bool:
    with transaction(factory) as session:
        return not session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        ).first()


def db(env: dict[str, str]):
    return session_factory(make_engine(env["BADGEWATCH_DATABASE_URL"]))


def monitor_status(env: dict[str, str]) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(cli_run(env, "monitor", "status", "--json"))
    return status


def jobs_by_state(factory) -> Counter[str]:
    with transaction(factory) as session:
        return Counter(j.state.value for j in session.scalars(select(CrawlJob)))


def test_scheduled_crawl_states_and_notifications_exactly_once(
    monitor_env, tmp_path, serve_site, dns_server, smtp_server, sms_gateway, start_monitor,
    monkeypatch,
) -> None:
    today = date(2026, 11, 28)
    good = serve_site(site_pages(1, 3), names=["合规.政务"])
    late = serve_site(site_pages(2, 3, with_badge=False), names=["逾期.政务"])
    fresh = serve_site(site_pages(3, 3, with_badge=False), names=["新站.政务"])
    dns_server.set_records("无法访问.政务", a=["127.0.0.1"])
    register_sites(monitor_env, tmp_path, [
        (1, "合规.政务", good.ip, today - timedelta(days=30)),
        (2, "逾期.政务", late.ip, date(2026, 10, 9)),
        (3, "新站.政务", fresh.ip, today),
        (4, "无法访问.政务", "127.0.0.1", today - timedelta(days=30)),
    ])
    process = start_monitor()
    factory = db(monitor_env)

    def states() -> dict[str, str]:
        with transaction(factory) as session:
            return {s.name: s.state.value for s in session.scalars(select(Site))}

    # Three nights, each followed by a daily pass, as the scheduler would run its two jobs.
    for night in (1, 2, 3):
        queue_nightly_now(monitor_env, monkeypatch)
        wait_for(lambda n=night: jobs_by_state(factory) == Counter({"done": 4 * n}), 240,
                 f"nightly round {night}")
        wait_for(lambda: "unchecked" not in states().values(), 60, "every site settled")
        if night == 1:
            assert states() == {"网站1": "compliant", "网站2": "overdue", "网站3": "pending",
                                "网站4": "unreachable"}
        daily_pass_now(monitor_env, monkeypatch)
        # Nothing is sent twice: wait until the monitor has settled and delivered everything.
        passed = datetime.now(UTC)
        wait_for(lambda at=passed: ticked_since(factory, at), 60, "a tick after the pass")
        wait_for(lambda: outbox_delivered(factory), 60, "the outbox delivered")
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0

    subjects = Counter((str(m["to"]), str(m["subject"])) for m in smtp_server.messages)
    to = Counter(str(m["to"]) for m in smtp_server.messages)
    assert to["unit3@example.cn"] == 1  # pending: failing inside the deadline
    assert to["unit2@example.cn"] == 1  # overdue
    assert to["unit1@example.cn"] == 0 and to["unit4@example.cn"] == 0
    assert to["office@zj.example.cn"] == 1  # one digest a day
    assert all(count == 1 for count in subjects.values())
    pending = next(m for m in smtp_server.messages if str(m["to"]) == "unit3@example.cn")
    body = pending.get_body(("plain",)).get_content()
    assert "新站.政务/p/" in body and "2026年12月4日" in body
    phones = Counter(s["phone"] for s in sms_gateway.sms)
    assert phones == Counter({"+8613905710003": 1, "+8613905710002": 1})
    assert len(sms_gateway.webhook) == 1

    status = json.loads(cli_run(monitor_env, "monitor", "status", "--json"))
    assert status["monitor"] is None  # stopped cleanly
    assert status["queue"]["running"] == 0


def test_killed_monitor_resumes_without_loss_or_duplicates(
    monitor_env, tmp_path, serve_site, smtp_server, start_monitor, monkeypatch
) -> None:
    today = date(2026, 11, 28)
    sites, servers = [], []
    for n in range(1, 5):
        server = serve_site(site_pages(n, 12, with_badge=n != 2, delay=0.3),
                            names=[f"站点{n}.政务"])
        servers.append(server)
        sites.append((n, f"站点{n}.政务", server.ip, today))
    register_sites(monitor_env, tmp_path, sites)
    factory = db(monitor_env)
    queue_nightly_now(monitor_env, monkeypatch)
    assert jobs_by_state(factory)["queued"] == 4

    first = start_monitor(BADGEWATCH_MONITOR_PROCESSES="1",
                          BADGEWATCH_MONITOR_SITES_PER_PROCESS="2")
    wait_for(lambda: jobs_by_state(factory)["running"] >= 1, 60, "a crawl running")
    # Mid-crawl: a home page is asked for (each page takes 0.3 s, a site at least 0.6 s).
    wait_for(lambda: any(server.hits("/") for server in servers), 60, "a crawl fetching")
    first.kill()  # SIGKILL: no clean stop; the crawl dies with its parent
    first.wait(10)
    assert published(factory) == 0, "a site was published before the monitor was killed"

    second = start_monitor(BADGEWATCH_MONITOR_PROCESSES="1",
                           BADGEWATCH_MONITOR_SITES_PER_PROCESS="2")
    wait_for(lambda: jobs_by_state(factory) == Counter({"done": 4}), 300, "all four jobs done")
    done = datetime.now(UTC)
    wait_for(lambda: ticked_since(factory, done), 60, "a tick after the last crawl")
    wait_for(lambda: outbox_delivered(factory), 60, "the outbox delivered")
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0

    with transaction(factory) as session:
        complete = Counter(
            site_id for (site_id,) in session.execute(
                select(SiteCheck.site_id).where(SiteCheck.complete)))
        assert sorted(complete.values()) == [1, 1, 1, 1]  # no site published twice
        attempts = [j.attempts for j in session.scalars(select(CrawlJob))]
        assert max(attempts) == 2 and sum(attempts) < 8
        assert session.scalar(select(func.count()).select_from(CrawlJob)) == 4
        states = {s.name: s.state.value for s in session.scalars(select(Site))}
    assert states == {"网站1": "compliant", "网站2": "pending", "网站3": "compliant",
                      "网站4": "compliant"}
    to = Counter(str(m["to"]) for m in smtp_server.messages)
    assert to["unit2@example.cn"] == 1


def test_recheck_overtakes_a_nightly_run(
    monitor_env, tmp_path, serve_site, start_monitor, monkeypatch
) -> None:
    today = date(2026, 11, 28)
    rows = []
    for n in range(1, 21):
        server = serve_site(site_pages(n, 6, delay=0.25), names=[f"夜间{n}.政务"])
        rows.append((n, f"夜间{n}.政务", server.ip, today))
    register_sites(monitor_env, tmp_path, rows, handlers=False)
    factory = db(monitor_env)
    queue_nightly_now(monitor_env, monkeypatch)
    start_monitor(BADGEWATCH_MONITOR_PROCESSES="2", BADGEWATCH_MONITOR_SITES_PER_PROCESS="5")
    wait_for(lambda: jobs_by_state(factory)["running"] >= 2, 60, "the nightly run under way")
    started = time.monotonic()
    recheck = subprocess.run(
        [sys.executable, "-m", "badgewatch", "recheck", "夜间20.政务", "--wait", "--json"],
        env={**os.environ, **monitor_env}, cwd=ROOT, capture_output=True, timeout=300,
        check=False,
    )
    recheck_seconds = time.monotonic() - started
    assert recheck.returncode == 0, recheck.stderr.decode()[-2000:]
    data = json.loads(recheck.stdout)
    assert data["state"] == "done"
    assert data["sites"][0]["status"] == "compliant"
    wait_for(lambda: jobs_by_state(factory) == Counter({"done": 20}), 300, "the nightly run")
    with transaction(factory) as session:
        finished = {j.site_id: j.finished_at for j in session.scalars(select(CrawlJob))}
        recheck_job = session.get(CrawlJob, data["job"])
        assert recheck_job is not None and recheck_job.kind == "recheck"
    nightly_end = max(at for site, at in finished.items() if site != recheck_job.site_id)
    assert recheck_job.finished_at is not None and recheck_job.finished_at < nightly_end
    print(f"recheck took {recheck_seconds:.1f} s; it finished "
          f"{(nightly_end - recheck_job.finished_at).total_seconds():.1f} s before the nightly run")


def test_missed_nightly_run_fires_once_on_restart(
    monitor_env, tmp_path, serve_site, start_monitor
) -> None:
    """The monitor is down when the nightly crawl is due; back within the grace, it runs the
    missed crawl once (coalesced), from the schedule it stored in the database."""
    today = date(2026, 11, 28)
    server = serve_site(site_pages(1, 2), names=["补跑.政务"])
    register_sites(monitor_env, tmp_path, [(1, "补跑.政务", server.ip, today)], handlers=False)
    factory = db(monitor_env)
    # A line that fires once, a few seconds from now: the monitor must be down by then.
    due = (datetime.now(SHANGHAI) + timedelta(seconds=8)).replace(microsecond=0)
    cron = f"{due.second} {due.minute} {due.hour} {due.day} {due.month} *"
    first = start_monitor(BADGEWATCH_MONITOR_NIGHTLY_CRON=cron)
    beat = wait_for(lambda: monitor_status(monitor_env)["monitor"], 60, "the monitor beating")
    assert datetime.fromisoformat(beat["next_runs"]["nightly-crawl"]) == due
    first.send_signal(signal.SIGTERM)
    assert first.wait(60) == 0
    assert datetime.now(UTC) < due, "the monitor took too long to start and stop"
    assert jobs_by_state(factory) == Counter()
    wait_for(lambda: datetime.now(UTC) > due + timedelta(seconds=1), 30, "the run to be missed")
    assert jobs_by_state(factory) == Counter()
    restarted = datetime.now(UTC)
    start_monitor(BADGEWATCH_MONITOR_NIGHTLY_CRON=cron)
    wait_for(lambda: jobs_by_state(factory)["done"] == 1, 120, "the missed crawl")
    # The scheduler has moved past the missed moment (its next run is a year away), and a
    # whole tick ran after the crawl: nothing else was queued.
    beat = wait_for(lambda: monitor_status(monitor_env)["monitor"], 60, "the monitor beating")
    assert datetime.fromisoformat(beat["next_runs"]["nightly-crawl"]) > due + timedelta(days=300)
    finished = datetime.now(UTC)
    wait_for(lambda: ticked_since(factory, finished), 60, "a tick after the crawl")
    assert jobs_by_state(factory) == Counter({"done": 1})
    with transaction(factory) as session:
        job = session.scalars(select(CrawlJob)).one()
    # Queued on start-up (a misfire caught up), not at the next scheduled minute.
    assert (job.enqueued_at - restarted).total_seconds() < 20
