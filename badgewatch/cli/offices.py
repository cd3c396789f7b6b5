"""``badgewatch office``: the staffing-office hierarchy."""

from __future__ import annotations

import click
from sqlalchemy import select

from badgewatch.cli.main import emit, fail, runtime
from badgewatch.domains import FieldInvalid
from store.db import transaction
from store.models import Office, OfficeLevel
from workflow import fields

PARENT_LEVEL = {
    OfficeLevel.PROVINCE: OfficeLevel.CENTRAL,
    OfficeLevel.PREFECTURE: OfficeLevel.PROVINCE,
    OfficeLevel.COUNTY: OfficeLevel.PREFECTURE,
}


@click.group("office")
def command() -> None:
    """Staffing offices (编办): central, province, prefecture, county."""


@command.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--level", type=click.Choice([lv.value for lv in OfficeLevel]), required=True)
@click.option("--parent", "parent_code", help="Code of the office one level up.")
@click.option("--email", help="Where the office's daily digest goes.")
def add(code: str, name: str, level: str, parent_code: str | None, email: str | None) -> None:
    """Add an office identified by its division code (e.g. 330000)."""
    office_level = OfficeLevel(level)
    if office_level is not OfficeLevel.CENTRAL and not (len(code) == 6 and code.isdigit()):
        fail(f"CODE: {code!r} is not a six-digit division code", bad_input=True)
    with transaction(runtime().sessions) as session:
        if session.scalar(select(Office).where(Office.code == code)) is not None:
            fail(f"CODE: office {code} exists already", bad_input=True)
        parent = None
        if parent_code is not None:
            parent = session.scalar(select(Office).where(Office.code == parent_code))
            if parent is None:
                fail(f"--parent: office {parent_code} does not exist", bad_input=True)
            expected = PARENT_LEVEL.get(office_level)
            if parent.level is not expected:
                fail(
                    f"--parent: a {level} office sits under a "
                    f"{expected.value if expected else 'no'} office, not a {parent.level.value}",
                    bad_input=True,
                )
        elif office_level in (OfficeLevel.PREFECTURE, OfficeLevel.COUNTY):
            fail(f"--parent: a {level} office needs its parent office", bad_input=True)
        if email is not None:
            try:
                email = fields.email(email)
            except FieldInvalid as exc:
                fail(f"--email: {exc.message}", bad_input=True)
        session.add(Office(code=code, name=name, level=office_level, parent=parent, email=email))
    click.echo(f"office {code} {name} added")


@command.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_offices(as_json: bool) -> None:
    """List the offices."""
    with transaction(runtime().sessions) as session:
        offices = session.scalars(select(Office).order_by(Office.code)).all()
        rows = [
            {
                "code": o.code,
                "name": o.name,
                "level": o.level.value,
                "parent": o.parent.code if o.parent else None,
            }
            for o in offices
        ]
    if as_json:
        emit({"offices": rows})
        return
    for row in rows:
        click.echo(f"{row['code']}\t{row['level']}\t{row['name']}\t{row['parent'] or ''}")
