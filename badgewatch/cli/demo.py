"""``badgewatch demo``: the whole workflow on the embedded default, on loopback only."""

from __future__ import annotations

from pathlib import Path

import click

from badgewatch.cli.main import translate_errors


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Data directory of the demo (recreated on each run).",
)
@translate_errors
def command(out: Path) -> None:
    """Take demo agencies through the workflow to issued badges and show the notices sent."""
    from badgewatch.demo import run_demo

    data_dir = run_demo(out, click.echo)
    click.echo(f"\ndemo database: {data_dir / 'badgewatch.db'}")
    click.echo(f"printed documents: {data_dir / 'documents'}")
