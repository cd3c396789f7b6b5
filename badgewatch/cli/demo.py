"""``badgewatch demo``: the whole product on the embedded default, on loopback only."""

from __future__ import annotations

from pathlib import Path

import click

from badgewatch.cli.main import fail, translate_errors


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
    """Issue badges to demo agencies, serve their sites on loopback, crawl and render them,
    and write the office reports."""
    from badgewatch.demo import DemoFailed, run_demo

    try:
        result = run_demo(out, click.echo)
    except DemoFailed as exc:
        fail(str(exc))
    click.echo(f"\ndemo database: {result.data_dir / 'badgewatch.db'}")
    click.echo(f"printed documents: {result.data_dir / 'documents'}")
    click.echo(f"reports: {result.report_dir}")
    click.echo(f"office report: {result.office_report}")
