"""``badgewatch user``: the people who act, with their roles."""

from __future__ import annotations

import click
from sqlalchemy import select

from badgewatch.cli.main import emit, fail, runtime, translate_errors
from badgewatch.domains import FieldInvalid
from store.db import transaction
from store.models import Office, Role, Unit, User
from workflow import fields

ROLES = [r.value for r in Role if r is not Role.SYSTEM]


@click.group("user")
def command() -> None:
    """Unit handlers, office reviewers, CONAC reviewers and operators."""


@command.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--unit", "unit_name", help="The unit of a unit handler.")
@click.option("--office", "office_code", help="The office of an office reviewer.")
@click.option("--email")
@click.option("--mobile")
@translate_errors
def add(
    name: str,
    role: str,
    unit_name: str | None,
    office_code: str | None,
    email: str | None,
    mobile: str | None,
) -> None:
    """Add a person in a role."""
    user_role = Role(role)
    if (user_role is Role.UNIT_HANDLER) != (unit_name is not None):
        fail("--unit: give it for a unit_handler, and only then", bad_input=True)
    if (user_role is Role.OFFICE_REVIEWER) != (office_code is not None):
        fail("--office: give it for an office_reviewer, and only then", bad_input=True)
    try:
        email = fields.email(email) if email else None
        mobile = fields.mobile(mobile) if mobile else None
    except FieldInvalid as exc:
        fail(f"--email/--mobile: {exc.message}", bad_input=True)
    with transaction(runtime().sessions) as session:
        user = User(name=name, role=user_role, email=email, mobile=mobile)
        if unit_name is not None:
            unit = session.scalar(select(Unit).where(Unit.name == unit_name))
            if unit is None:
                fail(f"--unit: unit {unit_name!r} does not exist", bad_input=True)
            user.unit_id = unit.id
        if office_code is not None:
            office = session.scalar(select(Office).where(Office.code == office_code))
            if office is None:
                fail(f"--office: office {office_code} does not exist", bad_input=True)
            user.office_id = office.id
        session.add(user)
    click.echo(f"user {name} ({role}) added")


@command.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_users(as_json: bool) -> None:
    """List the people and their roles."""
    with transaction(runtime().sessions) as session:
        units = {u.id: u.name for u in session.scalars(select(Unit))}
        offices = {o.id: o.code for o in session.scalars(select(Office))}
        rows = [
            {
                "name": u.name,
                "role": u.role.value,
                "unit": units.get(u.unit_id) if u.unit_id else None,
                "office": offices.get(u.office_id) if u.office_id else None,
                "email": u.email,
                "mobile": u.mobile,
            }
            for u in session.scalars(select(User).order_by(User.role, User.name))
        ]
    if as_json:
        emit({"users": rows})
        return
    for row in rows:
        click.echo(f"{row['role']}\t{row['name']}\t{row['unit'] or row['office'] or ''}")
