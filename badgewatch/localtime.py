"""Dates and times as people read them: in ``[calendar] timezone`` (Beijing time by default).

Times are stored in UTC. Every date or time a unit, an office or CONAC reads, and every "today"
that decides a deadline, goes through ``local``: a letter approved at 00:30 in Beijing is dated
that day, not the day before as UTC would have it.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` on the clock of ``zone``. A naive datetime is refused: it has no meaning."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    return moment.astimezone(zone)


def today(now: datetime, zone: ZoneInfo) -> date:
    """The calendar day it is at ``now`` in ``zone``."""
    return local(now, zone).date()


def text(moment: datetime, zone: ZoneInfo) -> str:
    """A time for people: ``2026-10-14 09:02`` on the clock of ``zone``."""
    return local(moment, zone).strftime("%Y-%m-%d %H:%M")


def cn_date(day: date) -> str:
    """A date as Chinese letters and notices write it: ``2026年10月14日``."""
    return f"{day.year}年{day.month}月{day.day}日"


def cn_time(moment: datetime, zone: ZoneInfo) -> str:
    """A time as Chinese notices write it, on the clock of ``zone``: ``2026年10月14日 09:02``."""
    shown = local(moment, zone)
    return f"{cn_date(shown.date())} {shown:%H:%M}"
