"""``badgewatch user``: the people who act, with their roles."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from badgewatch.cli.main import emit, fail, runtime, translate_errors
from badgewatch.domains import FieldInvalid
from badgewatch.runtime import utcnow
from store.db import transaction
from store.models import Office, Role, Unit, User
from web import audit
from web import sessions as web_sessions
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
@click.option("--login", help="A web login (give the password on stdin with --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the web password from stdin.")
@translate_errors
def add(
    name: str,
    role: str,
    unit_name: str | None,
    office_code: str | None,
    email: str | None,
    mobile: str | None,
    login: str | None,
    password_stdin: bool,
) -> None:
    """Add a person in a role, with a web login if --login is given."""
    if (login is None) != (not password_stdin):
        fail("--login and --password-stdin go together", bad_input=True)
    account = _account(login) if login is not None else None
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
        if account is not None:
            if session.scalar(select(User).where(User.login == account[0])) is not None:
                fail(f"--login: {account[0]} is taken", bad_input=True)
            user.login, user.password_hash = account
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
        session.flush()
        audit.record(session, action="user.add", now=utcnow(), user=None, actor="cli",
                     object_type="user", object_id=user.id, detail={"login": user.login})
    click.echo(f"user {name} ({role}) added" + (f", login {account[0]}" if account else ""))


@command.command("passwd")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the new password from stdin.")
def passwd(login: str, password_stdin: bool) -> None:
    """Set the web password of LOGIN; their browser sessions end."""
    login_name, password_hash = _account(login)
    with transaction(runtime().sessions) as session:
        user = session.scalar(select(User).where(User.login == login_name))
        if user is None:
            fail(f"LOGIN: no user has the login {login_name}", bad_input=True)
        user.password_hash = password_hash
        web_sessions.end_all(session, user.id)
        audit.record(session, action="user.passwd", now=utcnow(), user=None, actor="cli",
                     object_type="user", object_id=user.id)
    click.echo(f"password of {login_name} changed")


def _account(login: str) -> tuple[str, str]:
    """The login as stored and the hash of the password read from stdin, or exit 2."""
    from web import accounts

    if not accounts.valid_login(login):
        fail("--login: 3 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter "
             "or digit", bad_input=True)
    password = sys.stdin.readline().rstrip("\r\n")
    if not accounts.password_long_enough(password):
        fail(f"--password-stdin: a password has at least {accounts.MIN_PASSWORD_LENGTH} "
             "characters", bad_input=True)
    return accounts.normal_login(login), accounts.hash_password(password)


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
                "login": u.login,
            }
            for u in session.scalars(select(User).order_by(User.role, User.name))
        ]
    if as_json:
        emit({"users": rows})
        return
    for row in rows:
        click.echo(f"{row['role']}\t{row['name']}\t{row['unit'] or row['office'] or ''}")
