"""``badgewatch calendar``: working days by the official Chinese calendar."""

from __future__ import annotations

from datetime import date

import click

from badgewatch.cli.main import runtime, translate_errors


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@click.group("calendar")
def command() -> None:
    """Working-day calendar."""


@command.command("add-days")
@click.argument("start")
@click.argument("days", type=click.IntRange(min=0))
@translate_errors
def add_days(start: str, days: int) -> None:
    """Print the date DAYS working days after START."""
    click.echo(runtime().calendar.add_workdays(_date(start), days).isoformat())


@command.command("is-workday")
@click.argument("day")
@translate_errors
def is_workday(day: str) -> None:
    """Print yes or no."""
    click.echo("yes" if runtime().calendar.is_workday(_date(day)) else "no")
