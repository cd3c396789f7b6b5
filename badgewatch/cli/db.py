"""``badgewatch db``: the schema."""

from __future__ import annotations

import click

from badgewatch.cli.main import runtime
from store.migrate import upgrade


@click.group("db")
def command() -> None:
    """Database schema commands."""


@command.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision: str) -> None:
    """Create or migrate the schema to the latest revision."""
    url = runtime().config.database.url
    upgrade(url, revision)
    click.echo(f"database at revision {revision}")
