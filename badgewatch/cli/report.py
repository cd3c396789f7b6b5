"""``badgewatch report``: an office's compliance report (HTML, CSV, JSON) on demand."""

from __future__ import annotations

from pathlib import Path

import click

from badgewatch.cli.main import emit, fail, runtime
from badgewatch.runtime import utcnow


@click.command("report")
@click.option("--office", "office_code", help="Division code; default: every office with sites.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory of the report set (replaced as a whole once the new one is complete).",
)
@click.option("--json", "as_json", is_flag=True, help="Print where the pages are as JSON.")
def command(office_code: str | None, out: Path, as_json: bool) -> None:
    """Write the office report: its sites, the offices beneath it, exports for spreadsheets."""
    from reports.build import ReportError, write_reports
    from store.db import transaction
    from workflow.workdays import CalendarError

    rt = runtime()
    try:
        with transaction(rt.sessions) as session:
            result = write_reports(
                session, out, config=rt.config, calendar=rt.calendar, now=utcnow(),
                office_code=office_code,
            )
    except ReportError as exc:
        fail(f"--office: {exc}", bad_input=True)
    except CalendarError as exc:
        fail(str(exc))
    main_page = result.offices.get(office_code) if office_code else result.index
    if as_json:
        emit({
            "directory": str(result.directory),
            "page": str(main_page or result.index),
            "offices": {code: str(path) for code, path in result.offices.items()},
            "sites": result.sites,
        })
        return
    click.echo(f"{len(result.offices)} office page(s), {result.sites} site page(s) in "
               f"{result.directory}")
    click.echo(f"open: {main_page or result.index}")
