"""The scheduled jobs: plain module-level functions with no arguments, as APScheduler's
persistent job store wants them. Each reads the configuration and the clock itself: they are
the outermost layer; everything they call takes ``now``."""

from __future__ import annotations

import logging
from datetime import datetime

from badgewatch.config import load_config
from badgewatch.runtime import Runtime, utcnow
from monitor import deadlines, notices
from monitor.engine import engine_for
from store import retention
from store.db import transaction

log = logging.getLogger(__name__)


def queue_nightly() -> None:
    """Queue a crawl of every monitored site; the engine (the monitor's dispatcher, or the
    workers) runs them."""
    runtime = Runtime(load_config())
    engine = engine_for(runtime.config, runtime.sessions)
    try:
        queued = engine.enqueue_nightly(now=utcnow())
        log.info("nightly crawl: %d site(s) queued", queued)
    finally:
        engine.close()
        runtime.close()


def daily_pass() -> None:
    """Deadlines that passed without a crawl, day-before and domain expiry reminders and the
    office digests; then page results older than [store] keep_page_results_days are pruned."""
    runtime = Runtime(load_config())
    try:
        daily_pass_at(runtime)
    finally:
        runtime.close()


def daily_pass_at(runtime: Runtime, now: datetime | None = None) -> None:
    """The daily pass at ``now`` (the clock when None)."""
    now = now if now is not None else utcnow()
    today = runtime.workflow.today(now)
    config, calendar = runtime.config, runtime.calendar
    with transaction(runtime.sessions) as session:
        for change in deadlines.reevaluate_all(session, now=now, calendar=calendar, today=today):
            notices.on_state_change(session, change, now=now, calendar=calendar, config=config)
        notices.reminders(session, today=today, now=now, calendar=calendar, config=config)
        notices.expiry_reminders(session, today=today, now=now, config=config)
        notices.office_digests(session, day=today, now=now, config=config)
    retention.prune(
        runtime.sessions, now=now, keep_days=config.store.keep_page_results_days,
        data_dir=config.paths.data_dir,
    )
