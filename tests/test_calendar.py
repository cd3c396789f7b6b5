"""Working days: the official calendar, 调休, the 2027 gap and the operator's file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from badgewatch.cli.main import cli
from workflow.workdays import CalendarError, UnknownYear, WorkCalendar

CAL_2027 = """
[2027]
# New Year, Spring Festival (2027-02-06 .. 02-12) with two adjusted Saturdays
holidays = ["2027-01-01", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"]
workdays = ["2027-02-06", "2027-02-20"]
"""


def test_national_day_with_adjusted_workday() -> None:
    # 10-01..10-07 are off; Saturday 10-10 is an adjusted working day.
    assert WorkCalendar().add_workdays(date(2026, 9, 30), 5) == date(2026, 10, 13)


def test_adjusted_weekend_counts_and_holiday_does_not() -> None:
    cal = WorkCalendar()
    assert cal.is_workday(date(2026, 10, 10))  # Saturday, 调休
    assert not cal.is_workday(date(2026, 10, 5))  # Monday, holiday
    assert not cal.is_workday(date(2026, 10, 11))  # ordinary Sunday


def test_zero_days_is_the_start() -> None:
    assert WorkCalendar().add_workdays(date(2026, 3, 3), 0) == date(2026, 3, 3)


def test_workdays_between() -> None:
    cal = WorkCalendar()
    assert cal.workdays_between(date(2026, 9, 30), date(2026, 10, 13)) == 5
    assert cal.workdays_between(date(2026, 10, 13), date(2026, 9, 30)) == -5


def test_unknown_year_names_the_year_and_the_fix() -> None:
    with pytest.raises(UnknownYear) as info:
        WorkCalendar().add_workdays(date(2026, 12, 28), 5)
    message = str(info.value)
    assert "2027" in message
    assert "extra_file" in message and "[2027]" in message


def test_operator_file_adds_2027(tmp_path: Path) -> None:
    path = tmp_path / "cal.toml"
    path.write_text(CAL_2027, encoding="utf-8")
    cal = WorkCalendar.from_file(path)
    # Mon 2026-12-28 + 5: 29, 30, 31, (01-01 holiday), Mon 01-04, Tue 01-05
    assert cal.add_workdays(date(2026, 12, 28), 5) == date(2027, 1, 5)
    # Spring Festival: Fri 02-05 + 1 = Sat 02-06 (adjusted workday)
    assert cal.add_workdays(date(2027, 2, 5), 1) == date(2027, 2, 6)
    assert cal.add_workdays(date(2027, 2, 6), 1) == date(2027, 2, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[2027]\nholidays = ['2027-13-01']\n", "[2027] holidays"),
        ("[2027]\nholidays = ['2028-01-03']\n", "another year"),
        ("[2027]\nholidays = ['2027-01-04']\nworkdays = ['2027-01-04']\n", "both"),
        ("[2027]\nvacations = []\n", "unknown keys"),
        ("[next]\nholidays = []\n", "[next]"),
        ("[2027\n", "not valid TOML"),
    ],
)
def test_bad_operator_file_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "cal.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError) as info:
        WorkCalendar.from_file(path)
    assert expected in str(info.value)


def test_cli_add_days() -> None:
    result = CliRunner().invoke(cli, ["calendar", "add-days", "2026-09-30", "5"], env={})
    assert result.exit_code == 0, result.output
    assert result.output == "2026-10-13\n"


def test_cli_2027_error_then_operator_file(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["calendar", "add-days", "2027-03-01", "1"], env={})
    assert result.exit_code == 2
    assert "2027" in result.output
    path = tmp_path / "cal.toml"
    path.write_text(CAL_2027, encoding="utf-8")
    result = runner.invoke(
        cli,
        ["calendar", "add-days", "2027-02-05", "1"],
        env={"BADGEWATCH_CALENDAR_EXTRA_FILE": str(path)},
    )
    assert result.exit_code == 0, result.output
    assert result.output == "2027-02-06\n"
