"""Login lockout: too many failed logins for one login, or from one address, lock it for a while.

Failures are rows (``login_failures``), so a lock holds across restarts and every gunicorn
worker. ``locked_until`` is the rule, a pure function of the failure times; while a lock holds,
attempts are refused before the password is checked and not counted, so the time it lifts that
the page shows stays true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from badgewatch import localtime
from badgewatch.config import WebConfig
from store.models import LoginFailure


@dataclass(frozen=True)
class Limits:
    failures: int
    window: timedelta
    duration: timedelta

    @property
    def memory(self) -> timedelta:
        """How long a failure can still matter."""
        return self.window + self.duration


def limits(web: WebConfig) -> tuple[Limits, Limits]:
    """(per login, per address) from ``[web]``."""
    window = timedelta(minutes=web.lockout_window_minutes)
    duration = timedelta(minutes=web.lockout_minutes)
    return (
        Limits(web.lockout_login_failures, window, duration),
        Limits(web.lockout_address_failures, window, duration),
    )


def locked_until(times: Sequence[datetime], rule: Limits, now: datetime) -> datetime | None:
    """When the lock lifts, if ``rule.failures`` failures within ``rule.window`` lock it now.

    ``times`` in order. Each lock ends a count: failures before a lock's end never add up with
    failures after it, so a lifted lock is not renewed by the next single mistake.
    """
    start = 0
    until: datetime | None = None
    for index, moment in enumerate(times):
        if until is not None and moment < until:
            continue  # not counted while locked (not recorded by ``check`` either)
        if until is not None:
            start, until = index, None
        first = index - rule.failures + 1
        if first >= start and moment - times[first] <= rule.window:
            until = moment + rule.duration
            start = index + 1
    return until if until is not None and until > now else None


def check(
    session: Session, login: str, address: str, now: datetime, web: WebConfig
) -> datetime | None:
    """The time the lock on ``login`` or on ``address`` lifts, or None when neither is locked."""
    by_login, by_address = limits(web)
    ends = [
        locked_until(_times(session, LoginFailure.login == login, now - by_login.memory),
                     by_login, now),
        locked_until(_times(session, LoginFailure.address == address, now - by_address.memory),
                     by_address, now),
    ]
    return max((end for end in ends if end is not None), default=None)


def fail(session: Session, login: str, address: str, now: datetime, web: WebConfig) -> None:
    """Record a failed login; failures too old to matter are dropped on the way."""
    oldest = now - max(rule.memory for rule in limits(web))
    session.execute(delete(LoginFailure).where(LoginFailure.at < oldest))
    session.add(LoginFailure(login=login[:64], address=address[:45], at=now))
    session.flush()


def succeed(session: Session, login: str) -> None:
    """A good password clears the login's failures (the address keeps its own)."""
    session.execute(delete(LoginFailure).where(LoginFailure.login == login))


def message(lifts: datetime, zone: ZoneInfo) -> str:
    """What the page says while locked: when the lock lifts, in Beijing time."""
    return f"登录失败次数过多，已暂时锁定，请于 {localtime.text(lifts, zone)}（北京时间）后再试。"


def _times(session: Session, which: object, since: datetime) -> list[datetime]:
    return list(
        session.scalars(
            select(LoginFailure.at)
            .where(which, LoginFailure.at >= since)  # type: ignore[arg-type]
            .order_by(LoginFailure.at, LoginFailure.id)
        )
    )
