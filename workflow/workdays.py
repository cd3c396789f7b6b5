"""Working days by the official Chinese calendar, holidays and adjusted workdays (调休) included.

Built on ``chinesecalendar``, which knows each year only once the State Council publishes it.
An operator adds a year it does not know yet with a TOML file (``[calendar] extra_file``)::

    [2027]
    holidays = ["2027-01-01", "2027-02-08", ...]   # weekdays that are days off
    workdays = ["2027-02-20"]                     # weekends that are working days (调休)

A year in the file replaces the package's data for that year. A date in a year neither source
knows raises ``UnknownYear``: guessing would put a statutory deadline on the wrong day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from badgewatch.config import read_toml


class CalendarError(Exception):
    """The operator's calendar file is unreadable or inconsistent; the message names the line."""


class UnknownYear(CalendarError):
    """The calendar has no official data for this year."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"the working-day calendar has no data for {year}: add a [{year}] table with "
            f"'holidays' and 'workdays' to the file named by [calendar] extra_file "
            f"(BADGEWATCH_CALENDAR_EXTRA_FILE), or upgrade chinesecalendar once it knows {year}"
        )
        self.year = year


@dataclass(frozen=True)
class YearRules:
    holidays: frozenset[date]
    workdays: frozenset[date]


def _package_year(year: int) -> YearRules | None:
    holidays = frozenset(d for d in chinese_calendar.holidays if d.year == year)
    workdays = frozenset(d for d in chinese_calendar.workdays if d.year == year)
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return None
    return YearRules(holidays=holidays, workdays=workdays)


def _parse_dates(values: object, where: str) -> frozenset[date]:
    if not isinstance(values, list):
        raise CalendarError(f"{where}: expected a list of dates")
    out = set()
    for value in values:
        if isinstance(value, date):
            out.add(value)
            continue
        try:
            out.add(date.fromisoformat(str(value)))
        except ValueError as exc:
            raise CalendarError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc
    return frozenset(out)


def load_operator_file(path: Path) -> dict[int, YearRules]:
    """Read the operator's extra years; every mistake names the year and list at fault."""
    data = read_toml(path, "calendar", CalendarError)
    years: dict[int, YearRules] = {}
    for key, table in data.items():
        if not key.isdigit() or not isinstance(table, dict):
            raise CalendarError(f"{path}: [{key}] must be a year table such as [2027]")
        year = int(key)
        unknown = set(table) - {"holidays", "workdays"}
        if unknown:
            raise CalendarError(f"{path}: [{key}] has unknown keys {sorted(unknown)}")
        holidays = _parse_dates(table.get("holidays", []), f"{path}: [{key}] holidays")
        workdays = _parse_dates(table.get("workdays", []), f"{path}: [{key}] workdays")
        for name, days in (("holidays", holidays), ("workdays", workdays)):
            stray = sorted(d for d in days if d.year != year)
            if stray:
                raise CalendarError(f"{path}: [{key}] {name} has {stray[0]} from another year")
        both = holidays & workdays
        if both:
            raise CalendarError(f"{path}: [{key}] {min(both)} is both a holiday and a workday")
        years[year] = YearRules(holidays=holidays, workdays=workdays)
    return years


@dataclass
class WorkCalendar:
    """Answers "is this a working day" and adds working days; fails loudly on unknown years."""

    extra: dict[int, YearRules] = field(default_factory=dict)
    _cache: dict[int, YearRules | None] = field(default_factory=dict, repr=False)

    @classmethod
    def from_file(cls, path: Path | None) -> WorkCalendar:
        return cls(extra=load_operator_file(path) if path else {})

    def _rules(self, year: int) -> YearRules:
        if year not in self._cache:
            self._cache[year] = self.extra.get(year) or _package_year(year)
        rules = self._cache[year]
        if rules is None:
            raise UnknownYear(year)
        return rules

    def is_workday(self, day: date) -> bool:
        rules = self._rules(day.year)
        if day in rules.workdays:
            return True
        if day in rules.holidays:
            return False
        return day.weekday() < 5

    def add_workdays(self, start: date, days: int) -> date:
        """The day on which the Nth working day after ``start`` falls (start itself not counted)."""
        if days < 0:
            raise ValueError("days must not be negative")
        day = start
        self._rules(start.year)
        remaining = days
        while remaining:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        if end < start:
            return -self.workdays_between(end, start)
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count
