"""``badgewatch monitor``: run the long-lived monitor, or ask how it is doing."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any

import click

from badgewatch import localtime
from badgewatch.cli.main import emit, runtime
from badgewatch.runtime import utcnow
from monitor.watchdog import health
from store.db import transaction


@click.group("monitor", invoke_without_command=True)
@click.pass_context
def command(ctx: click.Context) -> None:
    """Run the monitor: the nightly schedule, the crawl queue, notifications, the watchdog."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.service import Monitor

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    monitor = Monitor(runtime().config)

    def stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("monitor").info("signal %d: stopping", signum)
        monitor.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    monitor.run()


@command.command("status")
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Next scheduled runs, the queue, running work, and sites whose checks went quiet (times
    in [calendar] timezone; --json gives them with their offset)."""
    from monitor.engine import engine_status

    rt = runtime()
    with transaction(rt.sessions) as session:
        now = utcnow()
        data = health(session, now=now, config=rt.config)
        data["engine"] = engine_status(session, now=now, config=rt.config).to_json()
    if as_json:
        emit(data)
        return
    zone = rt.config.calendar.zone

    def shown(iso: str | None) -> str:
        return localtime.text(datetime.fromisoformat(iso), zone) if iso else "—"

    monitor = data["monitor"]
    if monitor is None:
        click.echo("monitor: not running")
    else:
        click.echo(f"monitor: running on {monitor['host']} (pid {monitor['pid']}), "
                   f"last beat {shown(monitor['heartbeat_at'])}")
        for job, at in monitor["next_runs"].items():
            click.echo(f"  next {job}: {shown(at)}")
        for run in monitor["running"]:
            click.echo(f"  running: run {run['run_id']} sites {run['sites']}")
    _echo_engine(data["engine"], data["queue"], shown)
    if data["oldest_unchecked"]:
        click.echo(f"oldest unchecked site: {data['oldest_unchecked']['domain']}")
    if data["stale_sites"]:
        click.echo(f"{len(data['stale_sites'])} site(s) without a complete check for "
                   f"{data['stale_after_hours']:.0f} hours")


def _echo_engine(engine: dict[str, Any], q: dict[str, Any], shown: Callable[[str | None], str]
                 ) -> None:
    """The engine's part of ``monitor status``: workers, queue, running jobs, throughput."""
    click.echo(f"engine: {engine['engine']}, {len(engine['workers'])} worker(s)")
    for worker in engine["workers"]:
        click.echo(f"  {worker['name']}, last beat {shown(worker['heartbeat_at'])}")
        for job in worker["jobs"]:
            click.echo(f"    {job}")
    click.echo(f"queue: {q['queued']} queued, {q['running']} running"
               + (f", oldest since {shown(q['oldest_queued_at'])}"
                  if q["oldest_queued_at"] else ""))
    by_kind = ", ".join(f"{n} {kind}" for kind, n in sorted(engine["queued_by_kind"].items()))
    if by_kind:
        click.echo(f"  queued by kind: {by_kind}")
    for job in engine["running"]:
        click.echo(f"  running: job {job['job']} ({job['kind']}, site {job['site_id']}, "
                   f"attempt {job['attempt']}) on {job['worker']}")
    for night in engine["recent_nights"]:
        done = (f"{night['pages']} pages in {night['seconds']:g} s, "
                f"{night['pages_per_second']:g} pages/s" if night["finished_at"]
                else f"{night['pages']} pages so far, still running")
        click.echo(f"  night of {night['night']}: {night['runs']} run(s), "
                   f"{night['sites']} site(s), {done}")
    for run in engine["recent_runs"]:
        click.echo(f"  run {run['run']} ({run['trigger']}, {run['state']}): {run['sites']} "
                   f"site(s), {run['pages']} pages in {run['seconds']:g} s, "
                   f"{run['pages_per_second']:g} pages/s")
