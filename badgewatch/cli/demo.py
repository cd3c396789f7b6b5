"""``badgewatch demo``: the whole product on the embedded default, on loopback only."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from flask import Flask

    from badgewatch.config import Config

from badgewatch.cli.main import fail, runtime, translate_errors

# The demo's web accounts: (login, role, what they act as). The unit is the demo unit its
# office rejects once; the office is that unit's.
DEMO_UNIT = "杭州市人民政府办公厅"
DEMO_OFFICE = "330100"
DEMO_ACCOUNTS = [
    ("unit", "unit_handler", f"单位经办人，{DEMO_UNIT}"),
    ("office", "office_reviewer", f"编办审核人员，{DEMO_OFFICE}"),
    ("conac", "conac_reviewer", "CONAC 复审人员"),
    ("operator", "operator", "系统运维人员"),
]


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Data directory of the demo (recreated on each run).",
)
@click.option("--web", "serve_web", is_flag=True,
              help="Then serve the web application on loopback with demo accounts, until Ctrl-C.")
@translate_errors
def command(out: Path, serve_web: bool) -> None:
    """Issue badges to demo agencies, serve their sites on loopback, crawl and render them,
    and write the office reports."""
    from badgewatch.demo import DemoFailed, run_demo
    from web.app import create_app, demo_secret_key

    def red_pages(config: Config) -> Flask:
        """The web application answers the demo's red-page domain, as in production."""
        return create_app(config, secret_key=demo_secret_key())

    try:
        result = run_demo(out, click.echo, red_pages)
    except DemoFailed as exc:
        fail(str(exc))
    click.echo(f"\ndemo database: {result.data_dir / 'badgewatch.db'}")
    click.echo(f"printed documents: {result.data_dir / 'documents'}")
    click.echo(f"reports: {result.report_dir}")
    click.echo(f"office report: {result.office_report}")
    if serve_web:
        _serve_web(result.data_dir / "badgewatch.db")


def _serve_web(database: Path) -> None:
    """The web application on the demo's database, on loopback, with a secret key of this run
    and one account per role (new passwords each run, printed)."""
    from badgewatch.cli.web import serve
    from store.db import make_engine, session_factory
    from web.app import demo_secret_key

    base = runtime().config
    port = base.web.bind.rpartition(":")[2]
    config = base.model_copy(update={
        "database": base.database.model_copy(update={"url": f"sqlite:///{database}"}),
        "web": base.web.model_copy(update={"bind": f"127.0.0.1:{port}", "public_url": None}),
    })
    engine = make_engine(config.database.url)
    accounts = add_demo_accounts(session_factory(engine))
    engine.dispose()
    click.echo(f"\nweb application: http://{config.web.bind}/ (Ctrl-C stops)")
    click.echo("  用户名    密码")
    for login, password, label in accounts:
        click.echo(f"  {login:<9} {password}   {label}")
    serve(config, secret_key=demo_secret_key())


def add_demo_accounts(factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    """One web account per role on the demo's data: (login, new password, who they are)."""
    from sqlalchemy import select

    from store.db import transaction
    from store.models import Office, Role, Unit, User
    from web.accounts import hash_password

    made = []
    with transaction(factory) as session:
        unit = session.scalar(select(Unit).where(Unit.name == DEMO_UNIT))
        office = session.scalar(select(Office).where(Office.code == DEMO_OFFICE))
        if unit is None or office is None:
            fail(f"the demo's database has no unit {DEMO_UNIT} or no office {DEMO_OFFICE}")
        for login, role, label in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(9)
            session.add(User(
                name=f"演示{login}", role=Role(role), login=login,
                password_hash=hash_password(password),
                unit_id=unit.id if role == "unit_handler" else None,
                office_id=office.id if role == "office_reviewer" else None,
            ))
            made.append((login, password, label))
    return made
