"""The watchdog: what an operator must know before users complain that checks went quiet."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from badgewatch.config import Config
from notify.outbox import enqueue
from store import queue
from store.models import MonitorBeat, MonitorState, Site

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StaleSite:
    domain: str
    checked_at: datetime | None


def stale_sites(session: Session, *, now: datetime, max_age: timedelta) -> list[StaleSite]:
    """Monitored sites with no complete check within ``max_age`` (never checked included,
    once they have been registered that long)."""
    cutoff = now - max_age
    rows = session.execute(
        select(Site.domain, Site.checked_at)
        .where(
            Site.monitored,
            or_(Site.checked_at < cutoff, (Site.checked_at.is_(None)) & (Site.created_at < cutoff)),
        )
        .order_by(Site.checked_at.is_not(None), Site.checked_at)
    ).all()
    return [StaleSite(domain, checked_at) for domain, checked_at in rows]


def live_monitor(session: Session, *, now: datetime, tick: float) -> MonitorBeat | None:
    """The running monitor, if one beat recently enough."""
    return session.scalars(
        select(MonitorBeat)
        .where(
            MonitorBeat.stopped_at.is_(None),
            MonitorBeat.heartbeat_at >= now - timedelta(seconds=max(10 * tick, 30)),
        )
        .order_by(MonitorBeat.heartbeat_at.desc())
    ).first()


def health(session: Session, *, now: datetime, config: Config) -> dict[str, Any]:
    """What ``badgewatch monitor status`` shows."""
    beat = live_monitor(session, now=now, tick=config.monitor.tick_seconds)
    stats = queue.stats(session, now=now)
    oldest_unchecked = session.scalars(
        select(Site)
        .where(Site.monitored, Site.state == MonitorState.UNCHECKED)
        .order_by(Site.created_at)
    ).first()
    stale = stale_sites(session, now=now, max_age=timedelta(hours=config.monitor.stale_check_hours))
    return {
        "monitor": None
        if beat is None
        else {
            "id": beat.id,
            "host": beat.host,
            "pid": beat.pid,
            "started_at": beat.started_at.isoformat(),
            "heartbeat_at": beat.heartbeat_at.isoformat(),
            "next_runs": beat.info.get("next_runs", {}),
            "running": beat.info.get("running", []),
        },
        "queue": {
            "queued": stats.queued,
            "running": stats.running,
            "oldest_queued_at": stats.oldest_queued_at.isoformat()
            if stats.oldest_queued_at
            else None,
        },
        "oldest_unchecked": None
        if oldest_unchecked is None
        else {"domain": oldest_unchecked.domain, "since": oldest_unchecked.created_at.isoformat()},
        "stale_sites": [
            {"domain": s.domain, "checked_at": s.checked_at.isoformat() if s.checked_at else None}
            for s in stale
        ],
        "stale_after_hours": config.monitor.stale_check_hours,
    }


def watch(session: Session, *, now: datetime, config: Config) -> list[StaleSite]:
    """Log, and tell the operator once a day, about sites whose checks went quiet."""
    stale = stale_sites(session, now=now, max_age=timedelta(hours=config.monitor.stale_check_hours))
    if not stale:
        return stale
    log.warning(
        "%d site(s) without a complete check for %.0f hours: %s",
        len(stale), config.monitor.stale_check_hours, ", ".join(s.domain for s in stale[:10]),
    )
    if config.notify.operator_email:
        lines = [
            f"- {s.domain}：最近一次完整检查 {s.checked_at:%Y-%m-%d %H:%M} UTC"
            if s.checked_at
            else f"- {s.domain}：从未完成检查"
            for s in stale[:50]
        ]
        enqueue(
            session,
            key=f"watchdog:{now:%Y-%m-%d}",
            channel="email",
            recipient=config.notify.operator_email,
            subject=f"【网站标识监测】{len(stale)} 个网站超过 "
            f"{config.monitor.stale_check_hours:.0f} 小时没有完成检查",
            body="以下网站超过规定时间没有完成合规检查，请检查监测进程、抓取队列和网络：\n\n"
            + "\n".join(lines)
            + "\n\n可运行 badgewatch monitor status 查看详情。\n",
            now=now,
        )
    return stale
